import { Pool } from 'undici';
import { LatencyRecorder, type LatencySummary } from './latency.ts';

/**
 * Closed-model load (a fixed number of keep-alive connections, each sending its next request when
 * the last is answered), for "how many per second, and how fast".
 *
 * Not autocannon: it times a request from an entry in a per-connection queue, and after a
 * connection is dropped and re-opened (nginx closes a keep-alive connection after
 * keepalive_requests) a stale entry stays behind, so every later answer on that connection is
 * timed from the request before it: latencies doubled, and λ·W came out above the number of
 * connections, which a closed loop cannot do. Timing each request here, around undici's
 * request(), keeps fractions of a millisecond and every status (autocannon's own histogram keeps
 * whole milliseconds and 2xx only, and a redirect is a sub-millisecond 303).
 */
export interface Request {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** A new body for each request (creations need a new name each time). */
  body?: () => string;
}

export interface HammerOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  /** Cycled through by every connection, each starting at a different one. */
  requests: readonly Request[];
  /** Called about once a second with the totals so far. */
  onTick?: (tick: { elapsed: number; requests: number; rps: number }) => void;
}

export interface HammerResult {
  requests: number;
  durationSeconds: number;
  rps: number;
  latency: LatencySummary;
  statuses: Record<string, number>;
  /** Requests that got no answer at all (connection error or timeout). */
  errors: number;
}

const REQUEST_TIMEOUT_MS = 10_000;

export async function hammer(options: HammerOptions): Promise<HammerResult> {
  if (options.requests.length === 0) throw new Error('nothing to send');
  const latency = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  let errors = 0;
  const pool = new Pool(options.url, { connections: options.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000;

  let lastTick = started;
  let lastCount = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    const count = latency.count;
    options.onTick?.({ elapsed: (now - started) / 1000, requests: count, rps: ((count - lastCount) * 1000) / (now - lastTick) });
    lastTick = now;
    lastCount = count;
  }, 1000);

  const connection = async (index: number) => {
    for (let i = index; performance.now() < deadline; i++) {
      const request = options.requests[i % options.requests.length];
      if (request === undefined) break;
      const sentAt = performance.now();
      try {
        const response = await pool.request({
          method: request.method,
          path: request.path,
          ...(request.headers === undefined ? {} : { headers: request.headers }),
          ...(request.body === undefined ? {} : { body: request.body() }),
          headersTimeout: REQUEST_TIMEOUT_MS,
          bodyTimeout: REQUEST_TIMEOUT_MS,
        });
        await response.body.dump();
        latency.record(performance.now() - sentAt);
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
      } catch {
        errors++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, (_, i) => connection(i)));
  } finally {
    clearInterval(ticker);
    await pool.close();
  }
  const durationSeconds = (performance.now() - started) / 1000;
  return { requests: latency.count, durationSeconds, rps: latency.count / durationSeconds, latency: latency.summary(), statuses, errors };
}
