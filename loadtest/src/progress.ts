/**
 * One line a second on stderr while a run goes on, so a long run is visibly alive and a stalled
 * one is visibly stalled. Stdout stays for the final table.
 */
export interface ProgressOptions {
  quiet: boolean;
  intervalMs?: number;
}

export class Progress {
  readonly #started = performance.now();
  readonly #quiet: boolean;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ProgressOptions) {
    this.#quiet = options.quiet;
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  /** Seconds since this progress began. */
  get elapsed(): number {
    return (performance.now() - this.#started) / 1000;
  }

  log(message: string): void {
    if (!this.#quiet) process.stderr.write(`[${this.elapsed.toFixed(1).padStart(5)}s] ${message}\n`);
  }

  /** Calls `line` every interval and prints what it returns, until `stop()`. */
  every(line: () => string): void {
    this.stop();
    if (this.#quiet) return;
    this.#timer = setInterval(() => this.log(line()), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
