import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../../../test/support/index.ts';
import { describeFailure } from '../../src/check/check-uri.ts';

const options = { timeoutMs: 5000, connectTimeoutMs: 3000 };

function errorWithCode(code: string): Error {
  return Object.assign(new Error(`getaddrinfo ${code} example.invalid`), { code });
}

// The DNS failures cannot be produced for real here: these tests may only talk to loopback.
test('resolver failures are dns', () => {
  for (const code of ['ENOTFOUND', 'EAI_AGAIN']) {
    assert.deepEqual(describeFailure(errorWithCode(code), false, options), { reason: 'dns', detail: `DNS lookup failed (${code})` });
  }
});

test('a refused connection, alone or as every address of a name, is refused', async () => {
  const port = await freePort();
  const refusal = await new Promise<Error>((resolve) => connect(port, '127.0.0.1').once('error', resolve));
  assert.equal(describeFailure(refusal, false, options).reason, 'refused');
  assert.equal(describeFailure(new AggregateError([refusal]), false, options).reason, 'refused');
});

test('the deadline wins over whatever the aborted request threw', () => {
  const abort = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  assert.deepEqual(describeFailure(abort, true, options), { reason: 'timeout', detail: 'timed out after 5000 ms' });
  assert.deepEqual(describeFailure(errorWithCode('UND_ERR_CONNECT_TIMEOUT'), false, options), {
    reason: 'timeout',
    detail: 'connection timed out after 3000 ms',
  });
  assert.equal(describeFailure(errorWithCode('ECONNRESET'), false, options).reason, 'network');
});
