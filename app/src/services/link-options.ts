import { DomainError } from '../errors.ts';
import type { LinkOptions } from '../store/types.ts';

/** Expiry and forwarding as a client sends them: a date as ISO 8601 text, null to remove a limit. */
export interface LinkOptionsInput {
  expiresAt?: string | null | undefined;
  maxVisits?: number | null | undefined;
  forwardQuery?: boolean | undefined;
}

/** The largest visit limit: fits a 32-bit column and any count a link will reach. */
export const MAX_VISITS_LIMIT = 2_000_000_000;

/** Date.parse rolls 2030-02-31 over to March; a date that does not exist is refused instead. */
function isCalendarDate(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number);
  if (year === undefined || month === undefined || day === undefined) return false;
  return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
}

/**
 * Checks expiry and forwarding before anything is written (create and edit alike): a date must be
 * a real one in the future, a visit limit a whole number from 1. Absent fields stay absent.
 */
export function parseLinkOptions(input: LinkOptionsInput, now: number): LinkOptions {
  const options: LinkOptions = {};
  if (input.expiresAt !== undefined) {
    if (input.expiresAt === null) options.expiresAt = null;
    else {
      // Date.parse takes too much (a bare "5"); a date, and a time with its zone if any, only.
      const valid = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(input.expiresAt);
      const at = valid && isCalendarDate(input.expiresAt) ? Date.parse(input.expiresAt) : Number.NaN;
      if (Number.isNaN(at)) {
        throw new DomainError('INVALID_EXPIRY', `'${input.expiresAt}' is not a date: use ISO 8601, e.g. 2030-01-31T12:00:00Z.`);
      }
      if (at <= now) throw new DomainError('INVALID_EXPIRY', `The expiry date ${input.expiresAt} has passed: pick one in the future.`);
      options.expiresAt = new Date(at);
    }
  }
  if (input.maxVisits !== undefined) {
    const max = input.maxVisits;
    if (max !== null && (!Number.isInteger(max) || max < 1 || max > MAX_VISITS_LIMIT)) {
      throw new DomainError(
        'INVALID_MAX_VISITS',
        `A visit limit is a whole number from 1 to ${MAX_VISITS_LIMIT} (or null for none); got ${max}.`,
      );
    }
    options.maxVisits = max;
  }
  if (input.forwardQuery !== undefined) options.forwardQuery = input.forwardQuery;
  return options;
}
