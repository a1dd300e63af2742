import { parseStoreSpec, type StoreSpec } from '../dataset/store-spec.ts';

/** A command line the harness or the bench cannot run: said in one line, exit 64 (EX_USAGE). */
export class UsageError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 64) {
    super(message);
    this.exitCode = exitCode; // 64: EX_USAGE; 0 for --help
  }
}

/** `--name`'s value as a positive number, or the default when it was not given. */
export function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} must be a positive number, got '${raw}'`);
  return value;
}

/** `--store`'s value (`sqlite:DIR` or `postgres:URL`) naming a store that exists: the cost tools measure one, they make none. */
export function existingStore(raw: string | undefined, usage: string): StoreSpec {
  if (raw === undefined) throw new UsageError(`--store is needed\n\n${usage}`);
  try {
    return parseStoreSpec(raw, { links: 0, visits: 0, seed: 1 });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
