/**
 * Counter-based randomness: the draw for (seed, row, field) is a pure function of the three, so
 * any row of a dataset can be made again on its own, in any order (a resumed run, a chunk made
 * twice, the bench reconstructing a name) and comes out the same. A 32-bit finaliser of the
 * murmur3/splitmix family: fast, and far better mixed than a dataset needs.
 */
export function draw32(seed: number, row: number, field: number): number {
  let h = (seed ^ Math.imul(row | 0, 0x9e3779b1) ^ Math.imul((row / 0x1_0000_0000) | 0, 0x27d4eb2f) ^ Math.imul(field, 0x85ebca77)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A draw in [0, 1). */
export function unit(seed: number, row: number, field: number): number {
  return draw32(seed, row, field) / 0x1_0000_0000;
}

/** A whole number in [0, below). */
export function below(seed: number, row: number, field: number, below: number): number {
  return Math.floor(unit(seed, row, field) * below);
}
