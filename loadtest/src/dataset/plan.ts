import { draw32, unit } from './random.ts';

/**
 * What a dataset is: everything else (each row of each table, the names the bench's Zipf traffic
 * asks for) follows from these numbers, so the same plan makes the same store again.
 */
export interface DatasetPlan {
  /** Bookmarks (links). */
  links: number;
  /** Visits spread over the links by a Zipf law (s = 1): rank r gets about visits / (r · H(links)). */
  visits: number;
  seed: number;
  /** The newest link's created_at (epoch ms); the oldest is SPAN_MS before it. Fixed, not "now", so a plan is a plan. */
  endMs: number;
}

/** created_at is spread over this span, oldest first. */
export const SPAN_MS = 90 * 24 * 60 * 60 * 1000;
/** 2026-11-01T00:00:00Z: the end of every plan's 90 days. */
export const DEFAULT_END_MS = Date.UTC(2026, 10, 1);

/** Names are a fixed-width base-36 code of the link's index, so at most 36^5 links. */
const CODE_WIDTH = 5;
export const MAX_LINKS = 36 ** CODE_WIDTH;
const CODE_DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';
const PREFIX_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * The numbers a name and a Zipf rank are made of, derived from the seed. They are all the Lua
 * script of the bench's Zipf traffic needs to make the same names (loadtest/src/scale/zipf-lua.ts);
 * every product below stays under 2^53, so doubles (JavaScript's and LuaJIT's) compute them exactly.
 */
export interface NameKey {
  /** code(i) = (i · multiplier + offset) mod 36^5: a bijection, since the multiplier is prime to 36. */
  multiplier: number;
  offset: number;
  /** index(rank) = ((rank − 1) · rankStride + rankOffset) mod links: which link has which popularity. */
  rankStride: number;
  rankOffset: number;
}

function gcd(a: number, b: number): number {
  let [x, y] = [a, b];
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

export function nameKey(plan: Pick<DatasetPlan, 'links' | 'seed'>): NameKey {
  if (!Number.isSafeInteger(plan.links) || plan.links < 1 || plan.links > MAX_LINKS) {
    throw new RangeError(`links must be a whole number from 1 to ${MAX_LINKS}, got ${plan.links}`);
  }
  // ≡ 1 (mod 6): prime to 36^5.
  const multiplier = 1 + 6 * (1 + (draw32(plan.seed, 0, 101) % 5_000_000));
  const offset = draw32(plan.seed, 0, 102) % MAX_LINKS;
  let rankStride = 1 + (draw32(plan.seed, 0, 103) % Math.max(1, plan.links - 1));
  while (gcd(rankStride, plan.links) !== 1) rankStride++;
  const rankOffset = draw32(plan.seed, 0, 104) % plan.links;
  return { multiplier, offset, rankStride, rankOffset };
}

/**
 * Link `index`'s name (0-based; its id is index + 1): 0–6 letters, a 5-character code unique to
 * the index, and a digit, so 6–12 characters. The final digit keeps every name off the reserved
 * words (all of which end in a letter: validation.ts).
 */
export function nameOf(key: NameKey, index: number): string {
  const code = (index * key.multiplier + key.offset) % MAX_LINKS;
  let digits = '';
  let rest = code;
  for (let i = 0; i < CODE_WIDTH; i++) {
    digits = CODE_DIGITS[rest % 36] + digits;
    rest = Math.floor(rest / 36);
  }
  const prefixLength = code % 7;
  let prefix = '';
  for (let j = 0; j < prefixLength; j++) prefix += PREFIX_LETTERS[(code * 31 + (j + 1) * 17 + index) % 52];
  return `${prefix}${digits}${(code + index) % 10}`;
}

/** The index of the link with Zipf rank `rank` (1 = the most visited). */
export function indexOfRank(key: NameKey, links: number, rank: number): number {
  return ((rank - 1) * key.rankStride + key.rankOffset) % links;
}

/** The inverse: the Zipf rank of link `index`. */
export function rankOf(key: NameKey, links: number, index: number): number {
  const shifted = (((index - key.rankOffset) % links) + links) % links;
  return ((shifted * modularInverse(key.rankStride, links)) % links) + 1;
}

const inverses = new Map<string, number>();
function modularInverse(a: number, m: number): number {
  const cacheKey = `${a}/${m}`;
  const known = inverses.get(cacheKey);
  if (known !== undefined) return known;
  if (m === 1) return 0;
  let [oldR, r] = [BigInt(a), BigInt(m)];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  const inverse = Number(((oldS % BigInt(m)) + BigInt(m)) % BigInt(m));
  inverses.set(cacheKey, inverse);
  return inverse;
}

/** H(n) = 1 + 1/2 + … + 1/n, the Zipf (s = 1) normaliser; exact below a million terms, then ln n + γ + 1/2n. */
export function harmonic(n: number): number {
  if (n <= 1_000_000) {
    let sum = 0;
    for (let k = n; k >= 1; k--) sum += 1 / k;
    return sum;
  }
  return Math.log(n) + 0.5772156649015329 + 1 / (2 * n) - 1 / (12 * n * n);
}

/**
 * Link `index`'s visits: its Zipf share of the plan's visits, rounded up or down at random so the
 * total is the plan's on average (the tail's fractional shares add up instead of vanishing).
 */
export function visitsOf(plan: DatasetPlan, key: NameKey, normaliser: number, index: number): number {
  const share = plan.visits / (rankOf(key, plan.links, index) * normaliser);
  const whole = Math.floor(share);
  return whole + (unit(plan.seed, index, 500) < share - whole ? 1 : 0);
}

/** created_at of link `index`: evenly over the span, oldest first, jittered within its slot so ids and times agree. */
export function createdAtOf(plan: DatasetPlan, index: number): number {
  const slot = SPAN_MS / plan.links;
  return Math.floor(plan.endMs - SPAN_MS + (index + unit(plan.seed, index, 501)) * slot);
}
