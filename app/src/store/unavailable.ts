import { DomainError } from '../errors.ts';

/**
 * Seconds a client is told to wait when the store cannot answer: a restarted PostgreSQL takes a
 * few seconds, and a full or read-only disk needs an operator, who will not be faster than this.
 */
export const STORE_RETRY_AFTER_S = 5;

export type UnavailableReason = 'unreachable' | 'disk full' | 'read-only' | 'busy' | 'I/O error';

/** Why the store cannot answer, said to people; the driver's error stays in `cause` for the log. */
const WORDS: Record<UnavailableReason, string> = {
  unreachable: 'our database cannot be reached',
  'disk full': 'our storage is full',
  'read-only': 'our storage has become read-only',
  busy: 'our database is too busy to answer in time',
  'I/O error': 'our storage is failing to read or write',
};

/**
 * The store could not do what was asked, for a reason that passes without the request changing:
 * 503 with Retry-After. The message does not promise that nothing was written: a connection lost
 * during a commit leaves that unknown (a repeat of the same name and URI is harmless: 200).
 */
export class StoreUnavailableError extends DomainError {
  readonly reason: UnavailableReason;
  constructor(reason: UnavailableReason, cause: unknown) {
    super('STORE_UNAVAILABLE', `Bookmarks cannot be saved or looked up right now: ${WORDS[reason]}. Please try again in a minute.`, {
      retryAfter: STORE_RETRY_AFTER_S,
      cause,
    });
    this.name = 'StoreUnavailableError';
    this.reason = reason;
  }
}
