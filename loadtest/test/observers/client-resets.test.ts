import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureRestartResets } from '../../src/cli/restart-resets.ts';
import { Progress } from '../../src/progress.ts';
import { wrkSkip } from '../tool-skips.ts';

test('restart-resets in miniature: one rolling restart under wrk, every request answered 303 or 201', {
  skip: wrkSkip('the restart-resets miniature'),
}, async () => {
  const { load, roundsMs, failed } = await measureRestartResets(
    { rounds: 1, durationSeconds: 25, connections: 4 },
    new Progress({ quiet: true }),
  );
  assert.equal(roundsMs.length, 1);
  assert.ok(load.requests > 0);
  assert.deepEqual(Object.keys(load.statuses).sort(), ['201', '303'], `GETs and POSTs both answered: ${JSON.stringify(load.statuses)}`);
  assert.equal(load.errors, 0, 'no reset, no unanswered request');
  assert.equal(failed, 0);
});
