import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The SSRF rule: a check may only reach ordinary public unicast addresses. ipaddr.js parses every
 * notation (octal, hex, dotted-short, decimal, IPv6 with embedded IPv4) and `process` unwraps
 * IPv4-mapped IPv6, so `::ffff:127.0.0.1` is judged as 127.0.0.1. Everything outside its 'unicast'
 * range is refused: loopback, private, link-local (169.254.169.254 cloud metadata), unique-local,
 * carrier-grade NAT, multicast, broadcast, unspecified, reserved, and the IPv6 transition ranges
 * (NAT64, 6to4, Teredo) that can smuggle an IPv4 address through.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

/** The IP in a URL or connector hostname (IPv6 may come bracketed), or null for a DNS name. */
export function ipLiteral(hostname: string): string | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? null : bare;
}

export class ForbiddenAddressError extends Error {
  readonly code = 'ERR_FORBIDDEN_ADDRESS';
  constructor(host: string, address: string) {
    super(host === address ? `${address} is not a public address` : `${host} resolves to ${address}, not a public address`);
    this.name = 'ForbiddenAddressError';
  }
}
