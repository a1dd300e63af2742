import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { compileApp } from '../../../stack/src/build.ts';
import { runWrkScript } from '../bench/load/wrk.ts';
import { type DatasetPlan, DEFAULT_END_MS, indexOfRank, nameKey, nameOf } from '../dataset/plan.ts';
import { Progress } from '../progress.ts';
import { searchReady, startScaleStack } from '../scale/run.ts';
import { renderNamesScript } from '../scale/zipf-lua.ts';
import { existingStore, positive, UsageError } from './arguments.ts';

const USAGE = `node loadtest/src/cli/search-beside-redirects.ts --store sqlite:COPY|postgres:URL --links N
  [--term TEXT] [--seconds S] [--turns N] [--every MS]

What searches cost the redirects beside them (decision 0029): two apps behind nginx on a store made
by npm run dataset (a copy: the redirects add visits), wrk with 64 connections on the hot set for
--seconds (8), alone and then with one client searching --term ('kernel tuning report') through
the API every --every ms (200), --turns (2) times. Each line: redirects a second, p50 / p99 / max
ms, and the searches' count and mean time. Needs wrk and nginx.
`;

export async function searchBesideRedirects(argv: string[], out: (line: string) => void): Promise<void> {
  const { values } = (() => {
    try {
      return parseArgs({
        args: argv,
        options: {
          store: { type: 'string' },
          links: { type: 'string' },
          term: { type: 'string', default: 'kernel tuning report' },
          seconds: { type: 'string' },
          turns: { type: 'string' },
          every: { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (error) {
      throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    }
  })();
  if (values.help) throw new UsageError(USAGE, 0);
  const spec = existingStore(values.store, USAGE);
  if (values.links === undefined) throw new UsageError(`--links is needed\n\n${USAGE}`);
  const links = Math.round(positive('links', values.links, 0));
  const seconds = positive('seconds', values.seconds, 8);
  const turns = Math.round(positive('turns', values.turns, 2));
  const everyMs = positive('every', values.every, 200);
  const plan: DatasetPlan = { links, visits: links * 10, seed: 1, endMs: DEFAULT_END_MS };
  const key = nameKey(plan);
  const hotNames = Array.from({ length: Math.min(100, links) }, (_, i) => nameOf(key, indexOfRank(key, links, i + 1)));
  const searchUrl = (url: string) => `${url}/api/bookmarks?limit=20&q=${encodeURIComponent(values.term)}`;
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-search-beside-'));
  const stack = await startScaleStack({ spec, plan, dir, instances: 2, serverEntry: await compileApp(), env: {} });
  try {
    // PostgreSQL builds the search index after start-up (decision 0022): not in what is measured.
    await searchReady(stack.url, values.term, new Progress({ quiet: false }));
    for (let turn = 1; turn <= turns; turn++) {
      for (const searching of [false, true]) {
        let running = searching;
        const searchTimes: number[] = [];
        const searcher = (async () => {
          while (running) {
            const began = performance.now();
            const response = await request(searchUrl(stack.url));
            await response.body.dump();
            if (response.statusCode !== 200) throw new Error(`the search answered ${response.statusCode}`);
            searchTimes.push(performance.now() - began);
            await sleep(everyMs);
          }
        })();
        const redirects = await runWrkScript({
          url: stack.url,
          connections: 64,
          threads: 1,
          durationSeconds: seconds,
          script: renderNamesScript(hotNames),
        });
        running = false;
        await searcher;
        const { p50, p99, max } = redirects.latency;
        const searched =
          searchTimes.length === 0
            ? ''
            : `; ${searchTimes.length} searches, mean ${(searchTimes.reduce((sum, ms) => sum + ms, 0) / searchTimes.length).toFixed(0)} ms`;
        out(
          `turn ${turn}, ${searching ? 'with searches' : 'alone'}: ${Math.round(redirects.rps)} redirects/s, p50 ${p50.toFixed(2)} / p99 ${p99.toFixed(2)} / max ${max.toFixed(1)} ms, ${redirects.errors} failed${searched}`,
        );
      }
    }
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    await searchBesideRedirects(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`));
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
