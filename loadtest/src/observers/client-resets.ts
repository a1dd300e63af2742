import { setTimeout as sleep } from 'node:timers/promises';
import { type WrkRequest, type WrkResult, wrk } from '../bench/load/wrk.ts';
import type { Progress } from '../progress.ts';

/**
 * What an event on the server side (a rolling restart, a certificate renewal) costs a client that
 * never resends: wrk keeps `connections` keep-alive connections busy with `requests` while `event`
 * runs, after a warm-up. wrk counts a connection closed or reset under a request as a read error
 * and sends the next request on a new connection; it never sends one again. So every reset, every
 * unanswered request and every status not in `expected` is a request a real client lost.
 */
export interface ClientResetsOptions {
  url: string;
  connections: number;
  /** wrk's run: long enough for the warm-up and the whole event. */
  durationSeconds: number;
  requests: readonly WrkRequest[];
  /** The statuses that are answers, e.g. 303 and 201. */
  expected: readonly number[];
  warmUpMs: number;
}

export interface ClientResetsResult<Event> {
  load: WrkResult;
  /** What `event` returned. */
  event: Event;
  /** Answers other than the expected ones, and requests with no answer at all. */
  failed: number;
}

export async function observeClientResets<Event>(
  options: ClientResetsOptions,
  event: () => Promise<Event>,
  progress: Progress,
): Promise<ClientResetsResult<Event>> {
  progress.log(
    `wrk: ${options.connections} connections for ${options.durationSeconds} s through ${options.url}; the event after ${options.warmUpMs / 1000} s`,
  );
  const started = performance.now();
  const load = wrk({
    url: options.url,
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    requests: options.requests,
  });
  await sleep(options.warmUpMs);
  const outcome = await event();
  if (performance.now() - started > options.durationSeconds * 1000) {
    throw new Error(`the event outlasted wrk's ${options.durationSeconds} s: give a longer duration`);
  }
  progress.log('event done; waiting for wrk to finish');
  const result = await load;
  const answered = options.expected.reduce((total, status) => total + (result.statuses[String(status)] ?? 0), 0);
  return { load: result, event: outcome, failed: result.requests - answered + result.errors };
}
