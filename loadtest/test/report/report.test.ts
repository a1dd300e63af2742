import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markdownTable, percent, textTable } from '../../src/report/markdown.ts';
import { describeRun, npmCommand, runInfo } from '../../src/report/run-info.ts';
import { barChart, lineChart, niceTicks } from '../../src/report/svg.ts';

test('axis ticks at 1, 2 or 5 × 10^n covering the maximum', () => {
  assert.deepEqual(niceTicks(10), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0.87), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(23_000), [0, 5000, 10_000, 15_000, 20_000, 25_000]);
  assert.deepEqual(niceTicks(0), [0, 1]);
  assert.deepEqual(niceTicks(Number.NaN), [0, 1]);
});

test('charts are SVG documents with their text escaped and every series drawn', () => {
  const svg = lineChart({
    title: 'L <observed> & "λ·W"',
    xLabel: 's',
    yLabel: 'n',
    series: [
      {
        name: 'a',
        points: [
          [0, 1],
          [1, 2],
        ],
        color: '#000',
      },
      {
        name: 'b',
        points: [
          [0, 2],
          [1, 1],
        ],
        color: '#111',
        dashed: true,
      },
      { name: 'empty', points: [], color: '#222' },
    ],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.includes('L &#60;observed&#62; &#38; &#34;λ·W&#34;'));
  assert.equal(svg.match(/<path /g)?.length, 2);
  assert.equal(svg.match(/stroke-dasharray/g)?.length, 2, 'the dashed series and its legend entry');
  const bars = barChart({
    title: 't',
    yLabel: 'ms',
    groups: [
      {
        label: 'g',
        bars: [
          { name: 'p50', value: 1 },
          { name: 'p99', value: Number.NaN },
        ],
      },
    ],
    colors: { p50: '#000' },
  });
  assert.equal(bars.match(/<rect x=/g)?.length, 1, 'a NaN bar is left out, not drawn at NaN');
});

test('tables: numbers formatted, pipes escaped, columns padded', () => {
  assert.equal(
    markdownTable(
      ['a', 'b'],
      [
        [1234, 'x|y'],
        [0.123456, 'z'],
      ],
    ),
    '| a | b |\n| --- | --- |\n| 1,234 | x\\|y |\n| 0.1235 | z |',
  );
  assert.equal(textTable(['name', 'n'], [['long name', 1]]), 'name       n\n─────────  ─\nlong name  1');
  assert.equal(percent(0.33), '33.0%');
});

test('a run is told by its command, hardware class and date, and by nothing of the session', () => {
  const info = runInfo(npmCommand('bench', ['--legs', 'stats']));
  assert.deepEqual(Object.keys(info).sort(), ['arch', 'command', 'cpus', 'date', 'memoryGiB']);
  assert.equal(info.command, 'npm run bench -- --legs stats');
  assert.match(info.date, /^\d{4}-\d\d-\d\d$/);
  assert.ok(Number.isInteger(info.cpus) && info.cpus >= 1 && Number.isInteger(info.memoryGiB));
  assert.equal(
    describeRun({ command: 'npm run bench -- --legs stats', date: '2026-12-07', cpus: 2, arch: 'x86_64', memoryGiB: 24 }),
    '`npm run bench -- --legs stats` — 2-core x86_64, 24 GiB, 2026-12-07; load generator, nginx and apps share the machine',
  );
  assert.equal(npmCommand('bench', []), 'npm run bench');
  assert.equal(npmCommand('loadtest', ['redirects', '--url', "http://h/it's"]), "npm run loadtest -- redirects --url 'http://h/it'\\''s'");
});
