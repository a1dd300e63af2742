import { DomainError } from '../errors.ts';

export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_URI_LENGTH = 2048;

/**
 * First path segments that belong to the service (or its proxy), so a bookmark could never be
 * reached under them, or would shadow them.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'static',
  'api',
  'healthz',
  'readyz',
  'metrics',
  'nginx_status',
  'favicon',
  'robots',
  'admin',
  'login',
  'logout',
  'assets',
  'errors',
  'sign-in',
  'sign-out',
  'delete',
  'edit',
]);

export function validateName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new DomainError('INVALID_NAME', `The short name '${name}' is not allowed: use 1–64 letters, digits, '-' or '_'.`);
  }
  if (RESERVED_NAMES.has(name.toLowerCase())) {
    throw new DomainError('RESERVED_NAME', `The short name '${name}' is reserved by the service; pick another.`);
  }
  return name;
}

/**
 * A long URI refused before any fetch. `reason` says why in words that read after the seed's
 * "Couldn't fetch URI '…'. Sorry!", which is how the form answers it (the seed's fetch raised on
 * such text, so its check said no); the JSON API answers `message`, a 400.
 */
export class InvalidUriError extends DomainError {
  readonly reason: string;
  constructor(message: string, reason: string) {
    super('INVALID_URI', message);
    this.reason = reason;
  }
}

/** Returns the URI in its normalised form (what is stored and compared for idempotency). */
export function validateUri(raw: string): string {
  const uri = raw.trim();
  if (uri.length > MAX_URI_LENGTH) {
    throw new InvalidUriError(
      `The long URI is ${uri.length} characters; the limit is ${MAX_URI_LENGTH}.`,
      `it is ${uri.length} characters; the limit is ${MAX_URI_LENGTH}`,
    );
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InvalidUriError(
      `'${uri}' is not an absolute URI (it needs http:// or https://).`,
      'not an absolute URI: it needs http:// or https://',
    );
  }
  // javascript:, data:, file:, ftp: and friends would turn a redirect into an attack or a dead end.
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidUriError(
      `Only http and https URIs can be bookmarked, not '${url.protocol}'.`,
      `only http and https URIs can be bookmarked, not '${url.protocol}'`,
    );
  }
  if (url.href.length > MAX_URI_LENGTH) {
    throw new InvalidUriError(
      `The long URI is over ${MAX_URI_LENGTH} characters once normalised.`,
      `it is over ${MAX_URI_LENGTH} characters once normalised`,
    );
  }
  return url.href;
}
