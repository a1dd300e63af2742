/**
 * Domain errors carry a code; `httpStatus` is the one place a code becomes an HTTP status, so the
 * form, the JSON API and the redirect route all answer the same thing for the same mistake.
 */
export const httpStatus = {
  MISSING_FIELD: 400,
  INVALID_NAME: 400,
  RESERVED_NAME: 400,
  INVALID_URI: 400,
  INVALID_CURSOR: 400,
  INVALID_HOST: 400,
  INVALID_STATS_QUERY: 400,
  STATS_DISABLED: 404,
  INVALID_TITLE: 400,
  INVALID_EXPIRY: 400,
  INVALID_MAX_VISITS: 400,
  QUERY_TOO_SHORT: 400,
  URI_UNREACHABLE: 404,
  NOT_FOUND: 404,
  NAME_TAKEN: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CROSS_SITE: 403,
  HOST_BLOCKED: 403,
  LINK_EXPIRED: 410,
  CHECK_QUEUE_FULL: 503,
  CHECKS_UNAVAILABLE: 503,
  NAMES_EXHAUSTED: 503,
  SEARCH_INDEXING: 503,
  STORE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof httpStatus;

export class DomainError extends Error {
  readonly code: ErrorCode;
  /** Seconds a client should wait before retrying, where that is known (503). */
  readonly retryAfter: number | undefined;
  constructor(code: ErrorCode, message: string, options: { retryAfter?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'DomainError';
    this.code = code;
    this.retryAfter = options.retryAfter;
  }

  get statusCode(): number {
    return httpStatus[this.code];
  }
}
