import { sampleRunnableTasks } from '../observers/run-queue.ts';
import type { Progress } from '../progress.ts';
import type { Leg } from '../report/bench.ts';
import { combineSlices, type WrkRequest, type WrkResult, wrk } from './load/wrk.ts';

/**
 * Runs one of a leg's wrk runs (`durationSeconds` long; `warmingUp`: its warm-up) inside whatever
 * the leg needs around it.
 */
export type Around = <T>(run: () => Promise<T>, durationSeconds: number, warmingUp: boolean) => Promise<T>;
const alone: Around = (run) => run();

/** One of legs measured in turns. */
export interface TurnLeg {
  label: string;
  url: string;
  around?: Around;
}

/** A leg is wrk runs of this long, back to back; combineSlices says why. */
const SLICE_SECONDS = 2;

export class Measurer {
  readonly #connections: number;
  readonly #warmupSeconds: number;
  readonly #progress: Progress;

  constructor(options: { connections: number; durationSeconds: number }, progress: Progress) {
    this.#connections = options.connections;
    this.#warmupSeconds = Math.max(1, Math.round(options.durationSeconds / 5));
    this.#progress = progress;
  }

  async measure(label: string, url: string, seconds: number, requests: WrkRequest[]): Promise<Leg> {
    const [leg] = await this.measureTogether([{ label, url }], seconds, requests);
    if (leg === undefined) throw new Error(`no result for ${label}`);
    return leg;
  }

  /**
   * Legs measured in turns, a slice of each then the next (in reverse order every other round), so
   * that a machine that speeds up or slows down meanwhile moves them all alike. Measured a minute
   * apart, the stack (4) read 0.66, 0.73 and 0.70 of the ceiling (2) in three runs of the same code
   * on a shared host.
   */
  async measureTogether(legs: ReadonlyArray<TurnLeg>, seconds: number, requests: WrkRequest[]): Promise<Leg[]> {
    const progress = this.#progress;
    const run = (leg: TurnLeg, durationSeconds: number, warmingUp: boolean) =>
      (leg.around ?? alone)(
        async () => {
          const runnable = sampleRunnableTasks();
          // Stopped whatever wrk did: a sampler left running keeps the process alive (a failed bench test hung).
          try {
            const load = await wrk({ url: leg.url, connections: this.#connections, durationSeconds, requests });
            return { load, runnableTasks: runnable.stop() };
          } finally {
            runnable.stop();
          }
        },
        durationSeconds,
        warmingUp,
      );
    for (const leg of legs) await run(leg, this.#warmupSeconds, true);
    const labels = legs.map(({ label }) => label).join(' and ');
    const started = performance.now();
    progress.every(() => `${labels}: ${((performance.now() - started) / 1000).toFixed(0)} of ${seconds * legs.length} s`);
    try {
      // An odd count, so the median is one slice's figure: of four, two stalled slices of the
      // shorter legs decided the mean of the middle two.
      const slices = Math.max(1, Math.round(seconds / SLICE_SECONDS)) | 1;
      const results = legs.map(() => ({ slices: [] as WrkResult[], runnable: [] as number[] }));
      for (let i = 0; i < slices; i++) {
        const order = legs.map((_, index) => index);
        if (i % 2 === 1) order.reverse();
        for (const index of order) {
          const leg = legs[index];
          const result = results[index];
          if (leg === undefined || result === undefined) continue;
          const { load, runnableTasks } = await run(leg, seconds / slices, false);
          result.slices.push(load);
          if (runnableTasks !== undefined) result.runnable.push(runnableTasks);
        }
      }
      return legs.map(({ label }, index) => {
        const { slices: measured, runnable } = results[index] ?? { slices: [], runnable: [] };
        const result = combineSlices(measured);
        progress.log(`${label}: ${Math.round(result.rps)} req/s, p99 ${result.latency.p99.toFixed(2)} ms`);
        const runnableTasks = runnable.length === 0 ? undefined : runnable.reduce((a, b) => a + b, 0) / runnable.length;
        return { name: label, ...result, ...(runnableTasks !== undefined && { runnableTasks }) };
      });
    } finally {
      progress.stop();
    }
  }
}
