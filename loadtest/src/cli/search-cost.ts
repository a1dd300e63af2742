import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { compileApp } from '../../../stack/src/build.ts';
import { type DatasetPlan, DEFAULT_END_MS } from '../dataset/plan.ts';
import { Progress } from '../progress.ts';
import { searchTerms } from '../scale/probes.ts';
import { searchReady, startScaleStack } from '../scale/run.ts';
import { measureOperations } from '../scale/single.ts';
import { existingStore, positive, UsageError } from './arguments.ts';

const USAGE = `node loadtest/src/cli/search-cost.ts --store sqlite:DATA_DIR|postgres:URL --links N [--budgets 100,4000] [--samples N]

What search costs on a store made by npm run dataset, at each SEARCH_BUDGET_MS (decision 0029):
for each budget in turn, one app behind nginx on the store, bench:scale's search terms (a link's
name, three, two and one common word), --samples (30) of each through the API, one at a time in
turns; per term p50 / p99 ms, failures, and what the first page held: items, partial or not;
for a partial first page, the same for the page after it.
A budget above the statement timeout's 5 000 ms is not allowed: 4 000 is the index alone.
Needs nginx.
`;

interface SearchedPage {
  items: number;
  partial: boolean;
  nextCursor: string | null;
}

const searchPath = (term: string, cursor?: string | null) =>
  `/api/bookmarks?limit=20&q=${encodeURIComponent(term)}${cursor ? `&cursor=${cursor}` : ''}`;

async function searchedPage(url: string, path: string): Promise<SearchedPage> {
  const response = await request(`${url}${path}`);
  if (response.statusCode !== 200) {
    await response.body.dump();
    throw new Error(`${path} answered ${response.statusCode}`);
  }
  const page = (await response.body.json()) as { items: unknown[]; partial: boolean; nextCursor: string | null };
  return { items: page.items.length, partial: page.partial, nextCursor: page.nextCursor };
}

export async function searchCost(argv: string[], out: (line: string) => void): Promise<void> {
  const { values } = (() => {
    try {
      return parseArgs({
        args: argv,
        options: {
          store: { type: 'string' },
          links: { type: 'string' },
          budgets: { type: 'string', default: '100,4000' },
          samples: { type: 'string' },
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
  const samples = Math.round(positive('samples', values.samples, 30));
  const budgets = values.budgets.split(',').map((part) => Number(part.trim()));
  if (budgets.some((budget) => !Number.isSafeInteger(budget) || budget < 0 || budget > 4000)) {
    throw new UsageError(`--budgets takes whole numbers of ms from 0 to 4000, got '${values.budgets}'`);
  }
  const plan: DatasetPlan = { links, visits: links * 10, seed: 1, endMs: DEFAULT_END_MS };
  const terms = searchTerms(plan);
  const serverEntry = await compileApp();
  out('| SEARCH_BUDGET_MS | term | p50 / p99 ms | failed | page of 20: items (partial?) |');
  out('| --- | --- | --- | --- | --- |');
  for (const budget of budgets) {
    const dir = mkdtempSync(join(tmpdir(), 'linkyard-search-cost-'));
    const stack = await startScaleStack({ spec, plan, dir, instances: 1, serverEntry, env: { SEARCH_BUDGET_MS: String(budget) } });
    try {
      // PostgreSQL builds the search index after start-up (decision 0022): not in what is measured.
      await searchReady(stack.url, terms[0]?.term ?? 'abc', new Progress({ quiet: false }));
      // Each term's first page, and for a partial one the page after it (its cursor's), as a client paging on would ask.
      const probes: Array<{ label: string; path: string; page: SearchedPage }> = [];
      for (const { group, term } of terms) {
        const path = searchPath(term);
        const page = await searchedPage(stack.url, path);
        probes.push({ label: `${group} (\`${term}\`)`, path, page });
        if (page.partial) {
          const next = searchPath(term, page.nextCursor);
          probes.push({ label: `${group}, the page after`, path: next, page: await searchedPage(stack.url, next) });
        }
      }
      const results = await measureOperations(
        stack.url,
        probes.map(({ label, path }) => ({ name: label, send: () => ({ method: 'GET', path }), expect: 200 })),
        samples,
      );
      for (const [i, result] of results.entries()) {
        const page = probes[i]?.page;
        out(
          `| ${budget} | ${result.name} | ${result.p50Ms.toFixed(1)} / ${result.p99Ms.toFixed(1)} | ${result.failures} | ${page?.items}${page?.partial ? ', partial' : ''} |`,
        );
      }
    } finally {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    await searchCost(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`));
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? process.stdout : process.stderr).write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}
