import { DomainError } from '../errors.ts';
import type { AccessStore } from '../store/access-types.ts';

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/**
 * A blocklist entry as stored: lower case, no trailing dot, international names in their
 * punycode form (as URL gives a link's host). Anything with a scheme, port, path, user or
 * wildcard is not a host, and is refused rather than guessed at.
 */
export function normalizeHost(raw: string): string {
  const entry = raw.trim().toLowerCase().replace(/\.$/, '');
  let hostname: string | undefined;
  if (entry !== '' && !/[\s/:@?#*[\]\\]/.test(entry)) {
    try {
      hostname = new URL(`http://${entry}/`).hostname;
    } catch {
      hostname = undefined;
    }
  }
  if (hostname === undefined || !HOST_NAME.test(hostname)) {
    throw new DomainError(
      'INVALID_HOST',
      `'${raw.trim()}' is not a host name: give one such as spam.example (its subdomains are blocked with it).`,
    );
  }
  return hostname;
}

/** A link's host and every parent domain: a listed host blocks its subdomains too. */
export function hostAndParents(uri: string): string[] {
  const { hostname } = new URL(uri);
  // An IP address has no parents; an IPv6 literal keeps its brackets and matches no entry.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname) || hostname.startsWith('[')) return [hostname];
  const labels = hostname.split('.');
  return labels.map((_, index) => labels.slice(index).join('.'));
}

/**
 * What every process must answer 410 for, kept in memory and read again from the store every
 * `refreshMs`: a link to a host listed (or a link disabled) on any process stops redirecting on
 * this one within that bound. When the set changes, `onChange` lets the redirect cache go, so
 * no name it remembers outlives the bound either. The redirect's hot path only looks here for a
 * name read from the store (BookmarkService.resolveStored).
 */
export class Denylist {
  #hosts: ReadonlySet<string> = new Set();
  #disabled: ReadonlySet<string> = new Set();
  readonly #access: AccessStore;
  readonly #onChange: () => void;
  readonly #onError: (error: unknown) => void;
  readonly #timer: NodeJS.Timeout;
  #reading: Promise<void> = Promise.resolve();
  #busy = false;

  constructor(deps: { access: AccessStore; refreshMs: number; onChange: () => void; onError: (error: unknown) => void }) {
    this.#access = deps.access;
    this.#onChange = deps.onChange;
    this.#onError = deps.onError;
    // A tick while a read is still out is skipped: a slow store does not pile reads up.
    this.#timer = setInterval(() => {
      if (!this.#busy) void this.refresh();
    }, deps.refreshMs);
    this.#timer.unref();
  }

  /** Whether a redirect to `uri` under `name` must be refused (410). */
  denies(name: string, uri: string): boolean {
    if (this.#disabled.has(name)) return true;
    if (this.#hosts.size === 0) return false;
    return hostAndParents(uri).some((host) => this.#hosts.has(host));
  }

  /**
   * Reads the store again, after any read already out (so a change this process just made is
   * seen). A failure keeps the last set and is reported.
   */
  refresh(): Promise<void> {
    this.#reading = this.#reading.then(() => this.#read());
    return this.#reading;
  }

  async #read(): Promise<void> {
    this.#busy = true;
    try {
      const { hosts, disabledNames } = await this.#access.denials();
      const changed = !sameMembers(this.#hosts, hosts) || !sameMembers(this.#disabled, disabledNames);
      this.#hosts = new Set(hosts);
      this.#disabled = new Set(disabledNames);
      if (changed) this.#onChange();
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#busy = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

function sameMembers(set: ReadonlySet<string>, list: readonly string[]): boolean {
  return set.size === list.length && list.every((item) => set.has(item));
}
