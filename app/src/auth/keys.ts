import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Recognisable in a leak (secret scanners, a person reading a log): docs/decisions/0020-keys-and-sessions.md. */
export const KEY_PREFIX = 'lyk_';
/** 32 random bytes, base64url: 43 characters. */
export const KEY_PATTERN = /^lyk_[A-Za-z0-9_-]{43}$/;
/** A key's name: what links and the audit trail record as their author. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Names that mean something else in `created_by` and the audit trail. */
export const RESERVED_KEY_NAMES: ReadonlySet<string> = new Set(['form', 'anonymous', 'command', 'API_TOKEN']);

export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** SHA-256, hex: a 256-bit random key needs no slow KDF (decision 0020). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Two SHA-256 hex digests compared in constant time; both are always 32 bytes, so lengths never leak. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === 32 && right.length === 32 && timingSafeEqual(left, right);
}
