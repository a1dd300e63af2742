import { type LookupAddress, type LookupOptions, lookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import { buildConnector } from 'undici';
import { ForbiddenAddressError, ipLiteral, isPublicAddress } from './address-policy.ts';

export interface ConnectorOptions {
  connectTimeoutMs: number;
  allowPrivate: boolean;
  selfOrigin: string;
  selfVia: string;
  /** PEM certificates trusted besides Node's defaults (CHECK_EXTRA_CA_FILE). */
  extraCa?: string | undefined;
}

/**
 * The undici connector that enforces the SSRF rule where it cannot be bypassed: at the socket.
 * A guard in `lookup` alone misses IP literals (net.connect never looks them up), so literals are
 * judged here first; names go through `publicOnlyLookup`, whose answer is the very address
 * net.connect then dials, so a second DNS answer (rebinding) never gets a say. The hostname stays
 * the TLS servername and the Host header. The service's own origin is always allowed, so a
 * bookmark to linkyard itself works on a private address.
 */
export function guardedConnector(options: ConnectorOptions): buildConnector.connector {
  const tls = options.extraCa === undefined ? {} : { secureContext: trusting(options.extraCa) };
  const open = buildConnector({ timeout: options.connectTimeoutMs, ...tls });
  if (options.allowPrivate) return open;

  const guarded = buildConnector({ timeout: options.connectTimeoutMs, lookup: publicOnlyLookup, ...tls });
  const selfOrigins = new Set([new URL(options.selfOrigin).origin, new URL(options.selfVia).origin]);
  return (target, callback) => {
    if (selfOrigins.has(originOf(target))) return open(target, callback);
    const literal = ipLiteral(target.hostname);
    if (literal !== null && !isPublicAddress(literal)) {
      // undici expects the callback after connect() returns, as a socket would call it.
      process.nextTick(callback, new ForbiddenAddressError(literal, literal), null);
      return;
    }
    return guarded(target, callback);
  };
}

/**
 * One TLS context for every connection of the connector: `ca` given per connection instead would
 * make Node parse all its root certificates again for each handshake.
 */
function trusting(extraCa: string): SecureContext {
  return createSecureContext({ ca: [...getCACertificates('default'), extraCa] });
}

function originOf(target: buildConnector.Options): string {
  const host = target.hostname.includes(':') ? `[${target.hostname}]` : target.hostname;
  return new URL(`${target.protocol}//${host}${target.port ? `:${target.port}` : ''}`).origin;
}

/**
 * dns.lookup, refusing the name if any of its addresses is not public: a name that mixes public
 * and private answers is an attack, not a website. Answers in both shapes net.connect asks for
 * (`all` when it races address families).
 */
export const publicOnlyLookup: LookupFunction = (hostname, options: LookupOptions, callback) => {
  lookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '');
    const forbidden = addresses.find((candidate) => !isPublicAddress(candidate.address));
    if (forbidden !== undefined) return callback(new ForbiddenAddressError(hostname, forbidden.address), '');
    const [first] = addresses;
    if (options.all) return callback(null, addresses);
    if (first === undefined) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '');
    return callback(null, first.address, first.family);
  });
};
