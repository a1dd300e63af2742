import ipaddr from 'ipaddr.js';

export type AddressMatcher = (address: string) => boolean;

const REMEMBERED_ADDRESSES = 1024;

/**
 * Compiles `127.0.0.1,::1,10.0.0.0/8`-style lists into a matcher. IPv4-mapped IPv6 peers
 * (`::ffff:127.0.0.1`, how a dual-stack socket reports an IPv4 client) match their IPv4 entry.
 * Throws on an entry that is not an address or range.
 */
export function compileAddressMatcher(entries: readonly string[]): AddressMatcher {
  const ranges = entries.map((entry) => {
    try {
      return entry.includes('/') ? ipaddr.parseCIDR(entry) : ([ipaddr.parse(entry), entry.includes(':') ? 128 : 32] as const);
    } catch {
      throw new Error(`'${entry}' is not an IP address or CIDR range`);
    }
  });
  const matches = (address: string): boolean => {
    if (!ipaddr.isValid(address)) return false;
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
      parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    }
    return ranges.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits));
  };
  // Asked several times per request (client address, request id), nearly always about the same
  // few peers (nginx's workers): parsing each time was a visible share of a redirect's CPU
  // (docs/decisions/0013-redirects-answered-from-memory.md). Bounded, since X-Forwarded-For hops
  // are asked about too, and anyone can write those.
  const answers = new Map<string, boolean>();
  return (address) => {
    let trusted = answers.get(address);
    if (trusted === undefined) {
      trusted = matches(address);
      if (answers.size >= REMEMBERED_ADDRESSES) answers.clear();
      answers.set(address, trusted);
    }
    return trusted;
  };
}
