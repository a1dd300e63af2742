/**
 * `npm run testssl`: testssl.sh (Debian's `testssl` package) against a native stack with HTTPS
 * on, its certificate from a CA made for the run (test/support/tls.ts), HSTS at a year. Takes
 * about ten minutes on a 2-core VM, so it is not part of `npm test`. Writes the full report to
 * test-artifacts/testssl/ and prints every finding above LOW, marking those docs/https.md explains;
 * exits 1 if any other is found.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from '../stack/src/stack.ts';
import { SuiteCleanups, tempDir } from '../test/support/index.ts';
import { makeTestCa } from '../test/support/tls.ts';

const OUT_DIR = fileURLToPath(new URL('../test-artifacts/testssl/', import.meta.url));
const DAY_MS = 86_400_000;

/**
 * Findings above LOW that docs/https.md#what-testsslsh-found explains; anything else fails the run.
 * None since server cipher order (PrioritizeChaCha), the test CA's CRL URL and no gzip on what a
 * session cookie reaches: the issue's bar is "no finding above low".
 */
const EXPLAINED: Readonly<Record<string, string>> = {};

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

const RANK = ['OK', 'INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

const cleanups = new SuiteCleanups();
try {
  const ca = makeTestCa(cleanups);
  // 90 days, as an ACME CA issues: a shorter one is reported as about to expire.
  const site = ca.issue('testssl', { from: new Date(Date.now() - DAY_MS), to: new Date(Date.now() + 90 * DAY_MS) });
  const stack = await startStack({
    port: 0,
    instances: 1,
    dataDir: tempDir(cleanups, 'linkyard-testssl-data-'),
    stateDir: tempDir(cleanups, 'linkyard-testssl-state-'),
    quiet: true,
    accessLog: false,
    env: { LOG_LEVEL: 'warn' },
    tls: { ...site, port: 0, hstsMaxAge: 31_536_000 },
  });
  cleanups.after(() => stack.stop());
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const jsonFile = join(OUT_DIR, 'testssl.json');
  process.stdout.write(`testssl ${stack.url} (about ten minutes; full report in ${OUT_DIR})\n`);
  await new Promise<void>((resolve) => {
    const child = execFile(
      'testssl',
      [
        '--quiet',
        '--color',
        '0',
        '--warnings',
        'off',
        '--add-ca',
        ca.caCertFile,
        '--jsonfile',
        jsonFile,
        '--logfile',
        join(OUT_DIR, 'testssl.log'),
        stack.url,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
      () => resolve(),
    );
    // Its progress, section by section.
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (/^ Testing |^ Running /.test(line)) process.stdout.write(`${line.trim()}\n`);
    });
  });
  const findings = JSON.parse(readFileSync(jsonFile, 'utf8')) as Finding[];
  const aboveLow = findings.filter((finding) => RANK.indexOf(finding.severity) > RANK.indexOf('LOW'));
  const unexplained = aboveLow.filter((finding) => EXPLAINED[finding.id] === undefined);
  for (const finding of aboveLow) {
    const why = EXPLAINED[finding.id];
    process.stdout.write(
      `${finding.severity.padEnd(8)} ${finding.id}: ${finding.finding}${why === undefined ? '  <- NOT EXPLAINED' : `  (explained: ${why})`}\n`,
    );
  }
  const counts = RANK.map((severity) => `${severity} ${findings.filter((finding) => finding.severity === severity).length}`).join(', ');
  process.stdout.write(`${counts}; above LOW and not explained in docs/https.md: ${unexplained.length}\n`);
  process.exitCode = unexplained.length === 0 ? 0 : 1;
} finally {
  await cleanups.run();
}
