import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAnswer, readRequests, runK6, type K6Answer, type K6Request, type K6Run, type K6Scenario } from '../k6.ts';
import type { Progress } from '../progress.ts';

export interface K6ScenarioRun<Result> {
  k6: Pick<K6Run, 'exitCode' | 'thresholdsMet'>;
  /** The script's own answer (handleSummary's JSON). */
  answer: K6Answer<Result>;
  /** Every request k6 made, setup()'s included (their `scenario` is empty). */
  requests: K6Request[];
}

/**
 * Runs one k6 scenario for the harness: its answer and its per-request record go to a temp folder
 * that is removed afterwards; k6's progress lines (one a second) and its warnings go to the
 * progress output. `seconds` is how long the load lasts, for the timeout.
 */
export async function k6Scenario<Result>(
  scenario: K6Scenario,
  answerName: string,
  env: Readonly<Record<string, string>>,
  seconds: number,
  progress: Progress,
): Promise<K6ScenarioRun<Result>> {
  const dir = mkdtempSync(join(tmpdir(), `linkyard-k6-${scenario}-`));
  try {
    const outJson = join(dir, 'requests.ndjson');
    const run = await runK6({
      scenario,
      env,
      resultsDir: dir,
      outJson,
      timeoutMs: (seconds + 120) * 1000,
      onLine: (line) => {
        if (line.startsWith('running (') || line.includes('level=')) progress.log(`k6 | ${line}`);
      },
    });
    return { k6: { exitCode: run.exitCode, thresholdsMet: run.thresholdsMet }, answer: readAnswer<Result>(dir, answerName), requests: await readRequests(outJson) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
