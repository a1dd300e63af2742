import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startStack } from '../../../stack/src/stack.ts';
import type { WrkResult } from '../bench/load/wrk.ts';
import { positive, UsageError } from '../cli/arguments.ts';
import { observeClientResets } from '../observers/client-resets.ts';
import { Progress } from '../progress.ts';

/**
 * `npm run loadtest -- restart-resets`: what rolling restarts cost a client that never resends
 * (observeClientResets): nine GET /<name> → 303 for each POST /api/bookmarks → 201 (every POST a
 * real URI check of the stack's own page) through nginx, while the native stack replaces its app
 * processes `rounds` times.
 *
 *   npm run loadtest -- restart-resets [--rounds N] [--duration S] [--connections N] [--quiet]
 */
export interface RestartResetsOptions {
  rounds: number;
  /** wrk's run: long enough for every round (a round of 3 processes takes 10-15 s here). */
  durationSeconds: number;
  connections: number;
}

export interface RestartResetsResult {
  load: WrkResult;
  /** How long each rolling restart took, ms. */
  roundsMs: number[];
  /** Answers other than the expected 303 and 201, and requests with no answer at all. */
  failed: number;
}

const WARM_UP_MS = 3000;

export async function measureRestartResets(options: RestartResetsOptions, progress: Progress): Promise<RestartResetsResult> {
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-restart-resets-'));
  try {
    const stack = await startStack({
      instances: 3,
      port: 0,
      dataDir: join(dir, 'data'),
      stateDir: join(dir, 'state'),
      rateLimit: '100000r/s',
      accessLog: false,
      quiet: true,
      env: { LOG_LEVEL: 'warn' },
    });
    try {
      const steady = await fetch(`${stack.url}/api/bookmarks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: `${stack.url}/?steady`, name: 'steady' }),
      });
      if (steady.status !== 201) throw new Error(`could not create the bookmark the GETs ask for: ${steady.status} ${await steady.text()}`);

      const {
        load,
        event: roundsMs,
        failed,
      } = await observeClientResets(
        {
          url: stack.url,
          connections: options.connections,
          durationSeconds: options.durationSeconds,
          requests: [
            ...Array.from({ length: 9 }, () => ({ method: 'GET' as const, path: '/steady' })),
            {
              method: 'POST',
              path: '/api/bookmarks',
              headers: { 'content-type': 'application/json' },
              body: `{"uri": "${stack.url}/?w={n}", "name": "w{n}"}`,
            },
          ],
          expected: [303, 201],
          warmUpMs: WARM_UP_MS,
        },
        async () => {
          const rounds: number[] = [];
          for (let round = 1; round <= options.rounds; round++) {
            const began = performance.now();
            await stack.rollingRestart((message) => progress.log(`round ${round}: ${message}`));
            rounds.push(performance.now() - began);
          }
          return rounds;
        },
        progress,
      );
      return { load, roundsMs, failed };
    } finally {
      await stack.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseRestartArgs(args: string[]) {
  const options = {
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  } as const;
  try {
    return parseArgs({ args, options });
  } catch (error) {
    throw new UsageError(
      `${error instanceof Error ? error.message : String(error)}\nnpm run loadtest -- restart-resets [--rounds N] [--duration S] [--connections N] [--quiet]`,
    );
  }
}

/** The command: prints what the restarts cost; resolves to the exit code (1 when any request was lost). */
export async function restartResetsCommand(args: string[]): Promise<number> {
  const { values } = parseRestartArgs(args);
  const rounds = positive('rounds', values.rounds, 3);
  const options: RestartResetsOptions = {
    rounds,
    durationSeconds: positive('duration', values.duration, 10 + 15 * rounds),
    connections: positive('connections', values.connections, 16),
  };
  const { load, roundsMs, failed } = await measureRestartResets(options, new Progress({ quiet: values.quiet }));
  const statuses = Object.entries(load.statuses)
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ');
  process.stdout.write(
    [
      `rolling restarts: ${roundsMs.length} (${roundsMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}), 3 app processes each`,
      `requests: ${load.requests} in ${load.durationSeconds.toFixed(1)} s (${load.rps.toFixed(0)}/s), wrk -t1 -c${options.connections}, no resend`,
      `statuses: ${statuses}`,
      `no answer (reset, closed, timed out after 10 s): ${load.errors}`,
      `failed: ${failed}`,
      `latency ms: p50 ${load.latency.p50.toFixed(1)}, p99 ${load.latency.p99.toFixed(1)}, max ${load.latency.max.toFixed(1)}`,
      '',
    ].join('\n'),
  );
  return failed === 0 ? 0 : 1;
}
