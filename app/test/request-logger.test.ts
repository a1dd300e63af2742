import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { deferredChildLogger } from '../src/request-logger.ts';

interface Line {
  msg: string;
  level: number;
  reqId?: string;
  [field: string]: unknown;
}

/** A real Fastify and pino writing JSON lines the test reads back, counting the children pino makes. */
async function loggedApp() {
  const stream = new PassThrough();
  const lines: Line[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const part of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(part) as Line);
  });
  const children = { made: 0 };
  const app = Fastify({
    logger: { level: 'info', stream, onChild: () => void children.made++ },
    disableRequestLogging: true,
    childLoggerFactory: deferredChildLogger,
  });
  app.get('/quiet', (_request, reply) => reply.send('ok'));
  app.get('/chatty', (request, reply) => {
    request.log.debug('below the level');
    request.log.warn({ attempt: 2 }, 'took %d tries', 2);
    request.log.child({ step: 'inner' }).info('from a child');
    reply.send('ok');
  });
  await app.ready();
  return { app, lines, children };
}

describe('request logger', () => {
  it('makes no pino child for a request that logs nothing', async (t) => {
    const { app, lines, children } = await loggedApp();
    t.after(() => app.close());
    for (let i = 0; i < 5; i++) assert.equal((await app.inject('/quiet')).statusCode, 200);
    assert.equal(children.made, 0);
    assert.deepEqual(lines, []);
  });

  it('writes what a request logs as its own child would: the request id, the level, fields and format, a child of its own', async (t) => {
    const { app, lines, children } = await loggedApp();
    t.after(() => app.close());
    const answer = await app.inject('/chatty');
    assert.equal(answer.statusCode, 200);
    assert.equal(children.made, 2, "the request's child, then the one it asked for");
    assert.equal(lines.length, 2, 'debug is below the level');
    const [warned, nested] = lines;
    assert.equal(warned?.level, 40);
    assert.equal(warned?.msg, 'took 2 tries');
    assert.equal(warned?.attempt, 2);
    assert.equal(typeof warned?.reqId, 'string');
    assert.equal(nested?.msg, 'from a child');
    assert.equal(nested?.step, 'inner');
    assert.equal(nested?.reqId, warned?.reqId);
  });
});
