/**
 * The spellings of the loopback interface a browser on the service's machine uses interchangeably:
 * the native stack's PUBLIC_URL says 127.0.0.1, the person at the keyboard types localhost.
 */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether `url` is the service's own origin, the one private address a check may reach. Under a
 * loopback PUBLIC_URL, every loopback spelling with its scheme and port is the self-link too:
 * each names the same machine's port to a person. A public name has no such aliases: under
 * https://links.example.com, http://localhost:8080 is someone's private service.
 */
export function isSelfLink(url: URL, selfOrigin: string): boolean {
  const self = new URL(selfOrigin);
  if (url.origin === self.origin) return true;
  return url.protocol === self.protocol && url.port === self.port && LOOPBACK_HOSTS.has(self.hostname) && LOOPBACK_HOSTS.has(url.hostname);
}
