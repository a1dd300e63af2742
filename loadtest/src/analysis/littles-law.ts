/**
 * Little's law: in any stable system, the mean number of items inside (L) equals the rate they
 * arrive (λ) times the mean time each spends inside (W). It needs no assumption about arrival or
 * service distributions, only that λ, W and L are measured over the same window and boundary.
 */
export interface LittlesLaw {
  /** λ, completed requests per second. */
  arrivalRate: number;
  /** W, mean seconds from request sent to response received. */
  meanTimeInSystem: number;
  /** L = λ·W, requests in flight on average. */
  inFlight: number;
}

export function littlesLaw(completed: number, windowSeconds: number, meanSeconds: number): LittlesLaw {
  if (windowSeconds <= 0) throw new RangeError(`window must be positive, got ${windowSeconds}`);
  const arrivalRate = completed / windowSeconds;
  return { arrivalRate, meanTimeInSystem: meanSeconds, inFlight: arrivalRate * meanSeconds };
}

/** |observed − predicted| / predicted; 0 when both are 0, Infinity when only predicted is. */
export function relativeGap(predicted: number, observed: number): number {
  if (predicted === 0) return observed === 0 ? 0 : Number.POSITIVE_INFINITY;
  return Math.abs(observed - predicted) / predicted;
}

export interface Comparison {
  where: string;
  predicted: number;
  observed: number;
  gap: number;
  tolerance: number;
  held: boolean;
}

export function compare(where: string, predicted: number, observed: number, tolerance: number): Comparison {
  const gap = relativeGap(predicted, observed);
  return { where, predicted, observed, gap, tolerance, held: gap <= tolerance };
}

/**
 * The seed's question: 250 million page views a day, three requests each, 0.1 s per request.
 * λ = 250e6 / 86 400 · 3 ≈ 8 681 requests/s, so L = λ·W ≈ 868 requests in flight.
 */
export const SEED_IN_FLIGHT = { pageViewsPerDay: 250e6, requestsPerView: 3, secondsPerRequest: 0.1 } as const;

export function seedInFlight(seed: typeof SEED_IN_FLIGHT = SEED_IN_FLIGHT): LittlesLaw {
  const requestsPerSecond = (seed.pageViewsPerDay / 86_400) * seed.requestsPerView;
  return { arrivalRate: requestsPerSecond, meanTimeInSystem: seed.secondsPerRequest, inFlight: requestsPerSecond * seed.secondsPerRequest };
}

/**
 * The seed's cache question: 6000 requests/s, a third of them for CSS; once browsers cache the
 * CSS only 1% of visitors fetch it: 4000 + 2000 · 0.01 = 4020 requests/s, a 33% saving.
 */
export interface CacheArithmetic {
  before: number;
  cssShare: number;
  fetchShare: number;
  after: number;
  saving: number;
}

export function cacheArithmetic(before: number, cssShare: number, fetchShare: number): CacheArithmetic {
  const css = before * cssShare;
  const after = before - css + css * fetchShare;
  return { before, cssShare, fetchShare, after, saving: (before - after) / before };
}

export const SEED_CACHE = cacheArithmetic(6000, 1 / 3, 0.01);
