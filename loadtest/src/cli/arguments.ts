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
