import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cancel, newCancelFlag, watchCancelFlag } from '../../src/check/cancel-flag.ts';

// Across threads it is exercised by the pool's tests (queue.test.ts, idle-pool.test.ts); here,
// what the worker's side promises about timing.
test('a flag set before the watch cancels at once; one set during it, when the wait wakes', async () => {
  const early = newCancelFlag();
  cancel(early);
  let earlyCalls = 0;
  watchCancelFlag(early, () => earlyCalls++)();
  assert.equal(earlyCalls, 1, 'called before watchCancelFlag returns');

  const later = newCancelFlag();
  let laterCalls = 0;
  const release = watchCancelFlag(later, () => laterCalls++);
  await sleep(10);
  assert.equal(laterCalls, 0);
  cancel(later);
  await sleep(10);
  assert.equal(laterCalls, 1);
  release();
});

test('a released watch is not called by a later cancel', async () => {
  const flag = newCancelFlag();
  let calls = 0;
  const release = watchCancelFlag(flag, () => calls++);
  release();
  // Even when the cancel comes before the woken wait has run.
  cancel(flag);
  await sleep(10);
  assert.equal(calls, 0);
});
