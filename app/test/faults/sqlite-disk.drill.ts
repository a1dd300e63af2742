import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { type Stack, startStack } from '../../../stack/src/stack.ts';
import { startTarget, tempDir } from '../../../test/support/index.ts';
import { formPost, httpRequest } from '../client.ts';
import { htmlPage } from '../helpers.ts';
import { type Answer, assertNone, faultLoad, type LoadRecord, slowest, tally } from './load.ts';
import { ext4Skip, fillUp, mountExt4Image, mountSkip, mountTmpfs } from './mounts.ts';

// The disk under the SQLite file fails under steady load, with the real stack in front (nginx and
// two app processes): it fills up (a small tmpfs), or turns read-only the way ext4 does on an
// error (errors=remount-ro, on a loop-mounted image). Creates must be refused clearly, redirects
// must go on, and afterwards the file must be whole with every acknowledged bookmark in it.

const VISITS_FLUSH_MS = 200;
const CACHED = ['hot-a', 'hot-b', 'hot-c'];

/**
 * How many times the read-only test runs: one by default; more to count how often a create in
 * ext4's window is lost (`SQLITE_RO_RUNS=100`, docs/decisions/0028-wal-kept-at-size.md). With
 * SQLITE_WAL_PRESIZE=false (passed on to the app) the same count without the WAL kept at size.
 */
const READ_ONLY_RUNS = positiveInteger(process.env.SQLITE_RO_RUNS ?? '1', 'SQLITE_RO_RUNS');

function positiveInteger(raw: string, name: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 1000) throw new Error(`${name} must be a whole number from 1 to 1000, not '${raw}'`);
  return value;
}

/** The runs of the read-only test so far, for the line the last one prints. */
const readOnlyTally = { runs: 0, lostRuns: 0, lost: 0, acknowledgedDuring: 0 };

/** The size of the WAL next to `file`, 0 when there is none. */
function walSize(file: string): number {
  return statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
}

interface Running {
  stack: Stack;
  /** Visits made while warming up, per name, on top of the load's. */
  warmVisits: Map<string, number>;
}

/**
 * Starts the stack on `dataDir` and adds it to `stacks` at once, so the test's cleanup stops it
 * even if what follows fails; then creates the names the redirect loops follow (again, on a
 * second start: a repeat is harmless) and visits each once.
 */
async function startOn(stacks: Stack[], dataDir: string, stateDir: string, target: string): Promise<Running> {
  const stack = await startStack({
    instances: 2,
    port: 0,
    stateDir,
    dataDir,
    env: { CHECK_ALLOW_PRIVATE: 'true', VISITS_FLUSH_MS: String(VISITS_FLUSH_MS), LOG_LEVEL: 'error' },
    rateLimit: '100000r/s',
    accessLog: false,
    quiet: true,
  });
  stacks.push(stack);
  const warmVisits = new Map<string, number>();
  for (const name of CACHED) {
    const made = await httpRequest(`${stack.url}/`, formPost({ longuri: `${target}/?${name}`, shortname: name }));
    assert.equal(made.status, 303, /role="alert">([^<]*)/.exec(made.body)?.[1] ?? made.body.slice(0, 200));
    assert.equal((await httpRequest(`${stack.url}/${name}`)).status, 303);
    warmVisits.set(name, 1);
  }
  return { stack, warmVisits };
}

/** What the SQLite file holds once every process is gone. */
function inspect(file: string): { integrity: string; rows: Map<string, { uri: string; visits: number }> } {
  const db = new Database(file, { readonly: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    const rows = db.prepare<[], { name: string; uri: string; visits: number }>('SELECT name, uri, visits FROM bookmarks').all();
    return { integrity: String(integrity), rows: new Map(rows.map((row) => [row.name, row])) };
  } finally {
    db.close();
  }
}

function report(t: TestContext, load: LoadRecord, phases: readonly string[]): void {
  for (const name of phases) {
    const answers = load.answers.filter((answer) => answer.sentIn === name && answer.answeredIn === name);
    t.diagnostic(`${name}: ${tally(answers)}; slowest ${slowest(answers).toFixed(0)} ms`);
  }
}

/** During the fault a create is acknowledged (it fitted) or refused with a 503 a person can act on. */
function checkRefusals(answers: readonly Answer[], words: RegExp): { refused: number; message: string } {
  const creates = answers.filter((answer) => answer.what === 'form' || answer.what === 'api');
  assertNone(
    creates.filter(
      (answer) =>
        ![201, 303].includes(answer.status) &&
        (answer.status !== 503 ||
          answer.retryAfter !== '5' ||
          !words.test(answer.message ?? '') ||
          (answer.what === 'form' && !answer.keptTyped)),
    ),
    'creates during the fault were neither stored nor a 503 with Retry-After, a clear message and what was typed',
  );
  const refusals = creates.filter((answer) => answer.status === 503);
  assert.ok(refusals.length > 0, `the fault reached the store: ${tally(creates)}`);
  return { refused: refusals.length, message: refusals[0]?.message ?? '' };
}

/**
 * The stack with its SQLite file on `mount`, a page for its checks to reach, and a cleanup that
 * stops every stack started on the mount (the first and any after a repair) before releasing it.
 */
async function stackOnMount(t: TestContext, mount: { dir: string; release(): Promise<void> }) {
  const stacks: Stack[] = [];
  t.after(async () => {
    for (const stack of stacks) await stack.stop();
    await mount.release();
  });
  const stateDir = tempDir(t, 'linkyard-state-');
  const target = await startTarget(t, htmlPage('a page to bookmark'));
  const dataDir = join(mount.dir, 'data');
  const running = await startOn(stacks, dataDir, stateDir, target.url);
  return { stacks, stateDir, target, dataDir, running };
}

describe('the disk under SQLite fails under load', { timeout: 120_000 + 60_000 * READ_ONLY_RUNS }, () => {
  test('disk full: creates answer 503, redirects go on, and once there is room again everything is written', {
    skip: mountSkip,
  }, async (t) => {
    const mount = await mountTmpfs(16);
    const { target, dataDir, running } = await stackOnMount(t, mount);
    const { stack } = running;
    const pidsBefore = stack.pids();

    let phase = 'before';
    let filled = 0;
    const scenario = (async () => {
      await sleep(1500);
      filled = fillUp(join(mount.dir, 'filler'));
      phase = 'full';
      await sleep(3000);
      rmSync(join(mount.dir, 'filler'));
      phase = 'room again';
      await sleep(500);
      phase = 'after';
      await sleep(1500);
    })();
    const load = await faultLoad({
      url: stack.url,
      target: target.url,
      redirectNames: CACHED,
      createLoops: 2,
      redirectLoops: 3,
      pageLoops: 1,
      prefix: 'full',
      phase: () => phase,
      until: scenario,
    });
    report(t, load, ['before', 'full', 'room again', 'after']);
    t.diagnostic(`filled the last ${(filled / 1024 / 1024).toFixed(1)} MiB of a 16 MiB tmpfs`);

    const full = load.answers.filter((answer) => answer.sentIn === 'full' && answer.answeredIn === 'full');
    const { refused, message } = checkRefusals(full, /storage is full/);
    t.diagnostic(`a refused create was told: ${message}`);
    // Reads need no room: redirects and the page went on.
    assertNone(
      full.filter((answer) => answer.what === 'redirect' && answer.status !== 303),
      'redirects failed while the disk was full',
    );
    assertNone(
      full.filter((answer) => answer.what === 'page' && answer.status !== 200),
      'pages failed while the disk was full',
    );

    // Room again: no restart needed, everything succeeds.
    assert.deepEqual(stack.pids(), pidsBefore);
    const after = load.answers.filter((answer) => answer.sentIn === 'after');
    const expected = { api: 201, form: 303, redirect: 303, page: 200 } as const;
    assertNone(
      after.filter((answer) => answer.status !== expected[answer.what]),
      'requests failed after room was made',
    );

    // Stopped (visits flushed), the file is whole, with every acknowledged bookmark and every visit.
    await stack.stop();
    const { integrity, rows } = inspect(join(dataDir, 'linkyard.sqlite'));
    assert.equal(integrity, 'ok');
    assert.deepEqual(
      load.acknowledged.filter(({ name, longuri }) => rows.get(name)?.uri !== longuri),
      [],
    );
    for (const name of CACHED) {
      assert.equal(rows.get(name)?.visits, (load.redirects.get(name) ?? 0) + (running.warmVisits.get(name) ?? 0), `visits of ${name}`);
    }
    t.diagnostic(
      `${refused} creates refused while full; ${load.acknowledged.length} acknowledged, all stored; ` +
        `integrity_check ok; ${[...load.redirects.values()].reduce((a, b) => a + b, 0)} redirects, every one written as a visit`,
    );
  });

  for (let run = 1; run <= READ_ONLY_RUNS; run++) {
    const title = READ_ONLY_RUNS === 1 ? '' : ` (run ${run} of ${READ_ONLY_RUNS})`;
    test(`file system turned read-only: creates answer 503, redirects go on, nothing acknowledged is lost${title}`, {
      skip: ext4Skip,
    }, async (t) => {
      const mount = await mountExt4Image(64);
      const { stacks, stateDir, target, dataDir, running } = await stackOnMount(t, mount);
      const { stack } = running;

      const file = join(dataDir, 'linkyard.sqlite');
      let phase = 'before';
      let brokeAt = 0;
      let walAtFault = 0;
      const scenario = (async () => {
        await sleep(1500);
        walAtFault = walSize(file);
        brokeAt = Date.now();
        mount.breakIt();
        phase = 'read-only';
        await sleep(3000);
      })();
      const load = await faultLoad({
        url: stack.url,
        target: target.url,
        redirectNames: CACHED,
        createLoops: 2,
        redirectLoops: 3,
        pageLoops: 1,
        prefix: 'ro',
        phase: () => phase,
        until: scenario,
      });
      report(t, load, ['before', 'read-only']);

      const readOnly = load.answers.filter((answer) => answer.sentIn === 'read-only');
      const { refused, message } = checkRefusals(readOnly, /read-only|failing to read or write/);
      t.diagnostic(`a refused create was told: ${message}`);
      assertNone(
        readOnly.filter((answer) => answer.what === 'redirect' && answer.status !== 303),
        'redirects failed on the read-only file system',
      );

      // An ext4 error needs the operator: every process stops, the file system is checked and
      // mounted again. Then the file must be whole.
      await stack.stop();
      const fsck = await mount.repair();
      t.diagnostic(`e2fsck: ${fsck.trim().split('\n').join(' | ')}`);
      const { integrity, rows } = inspect(file);
      assert.equal(integrity, 'ok');
      // Every acknowledged bookmark is there. ext4 aborts its journal at the error and turns
      // read-only ~15 ms later: a commit in between that grew the WAL could be acknowledged and be
      // gone after e2fsck. The app keeps its WAL at size so that no commit grows it; with that off
      // (SQLITE_WAL_PRESIZE=false) such losses are reported, not failed (docs/decisions/0028-wal-kept-at-size.md).
      const createAnswers = new Map(
        load.answers.filter((answer) => answer.what === 'form' || answer.what === 'api').map((answer) => [answer.name, answer]),
      );
      const beforeFault = ({ name }: { name: string }): boolean => (createAnswers.get(name)?.at ?? Number.POSITIVE_INFINITY) < brokeAt;
      const before = load.acknowledged.filter(beforeFault);
      const during = load.acknowledged.filter((acknowledged) => !beforeFault(acknowledged));
      const missing = (list: typeof load.acknowledged) => list.filter(({ name, longuri }) => rows.get(name)?.uri !== longuri);
      const when = ({ name }: { name: string }): string => {
        const answer = createAnswers.get(name);
        return answer === undefined
          ? name
          : `${name} (answered ${answer.at - brokeAt} ms after the fault, after ${answer.ms.toFixed(1)} ms)`;
      };
      assert.deepEqual(missing(before).map(when), [], 'acknowledged before the fault, then missing');
      const lost = missing(during);
      t.diagnostic(
        `creates acknowledged after the fault was injected: ${during.length}, of which missing after e2fsck: ${lost.map(when).join(', ') || 'none'}; ` +
          `the WAL was ${walAtFault} bytes at the fault`,
      );
      Object.assign(readOnlyTally, {
        runs: readOnlyTally.runs + 1,
        lostRuns: readOnlyTally.lostRuns + (lost.length > 0 ? 1 : 0),
        lost: readOnlyTally.lost + lost.length,
        acknowledgedDuring: readOnlyTally.acknowledgedDuring + during.length,
      });
      if (process.env.SQLITE_WAL_PRESIZE !== 'false') {
        assert.deepEqual(lost.map(when), [], 'acknowledged in the window between the journal abort and read-only, then missing');
      }
      if (READ_ONLY_RUNS > 1) {
        t.diagnostic(
          `read-only runs so far: ${readOnlyTally.runs}, with a create lost: ${readOnlyTally.lostRuns} (${readOnlyTally.lost} creates of ` +
            `${readOnlyTally.acknowledgedDuring} acknowledged after the fault); SQLITE_WAL_PRESIZE=${process.env.SQLITE_WAL_PRESIZE ?? 'true'}`,
        );
      }
      // Visits counted while nothing could be written die with the processes: at most those since
      // the last flush before the fault (two intervals, for a flush the event loop ran late). None
      // is counted twice.
      const answered = CACHED.reduce((sum, name) => sum + (load.redirects.get(name) ?? 0) + (running.warmVisits.get(name) ?? 0), 0);
      const written = CACHED.reduce((sum, name) => sum + (rows.get(name)?.visits ?? 0), 0);
      /** Redirects answered from `ms` before the fault on. */
      const answeredSince = (ms: number): number =>
        load.answers.filter((answer) => answer.what === 'redirect' && answer.status === 303 && answer.at >= brokeAt - ms).length;
      const mayBeLost = answeredSince(2 * VISITS_FLUSH_MS);
      t.diagnostic(
        `visits lost: ${answered - written}; answered in the ${2 * VISITS_FLUSH_MS} ms before the fault or after: ${mayBeLost}, in the 1000 ms before or after: ${answeredSince(1000)}`,
      );
      assert.ok(written <= answered, `written ${written} ≤ answered ${answered}`);
      assert.ok(
        answered - written <= mayBeLost,
        `lost ${answered - written} visits; at most the ${mayBeLost} answered since the last flush before the fault`,
      );

      // The service runs again on the repaired disk.
      const again = await startOn(stacks, dataDir, stateDir, target.url);
      // As a person would, it tries again after a 503's Retry-After: once (CI, a busy disk) the first
      // create after the restart waited out SQLite's busy timeout behind the new processes' start-up.
      let created = await httpRequest(
        `${again.stack.url}/`,
        formPost({ longuri: `${target.url}/?after-repair`, shortname: 'after-repair' }),
      );
      for (let attempt = 1; created.status === 503 && attempt < 5; attempt++) {
        const alert = /role="alert">([^<]*)/.exec(created.body)?.[1] ?? created.body.slice(0, 200);
        t.diagnostic(
          `create after the repair: 503 (${alert}), trying again; the apps said:\n${again.stack.logTail().slice(-8).join('\n')}`,
        );
        await sleep(1000 * Number(created.headers['retry-after'] ?? 1));
        created = await httpRequest(`${again.stack.url}/`, formPost({ longuri: `${target.url}/?after-repair`, shortname: 'after-repair' }));
      }
      assert.equal(created.status, 303, created.body);
      t.diagnostic(
        `${refused} creates refused while read-only; ${before.length} acknowledged before the fault, all stored; integrity_check ok; ` +
          `visits: ${answered} answered, ${written} written, ${answered - written} lost with the processes stopped on the read-only disk`,
      );
    });
  }
});
