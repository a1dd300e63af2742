import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { OneLinePerRequest } from '../src/request-log.ts';

interface Line {
  msg: string;
  level: number;
  reqId?: string;
  url?: string;
  statusCode?: number;
  responseTime?: number;
}

/** A real Fastify with a real pino writing JSON lines into a stream the test reads back. */
async function loggedApp(logRequests: boolean) {
  const stream = new PassThrough();
  const lines: Line[] = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) lines.push(JSON.parse(part) as Line);
  });
  const app = Fastify({ logger: { level: 'info', stream }, logController: new OneLinePerRequest({ logRequests }) });
  app.get('/short', (_request, reply) => reply.redirect('https://example.org/', 303));
  app.get('/busy', (_request, reply) => reply.code(503).send('store unavailable'));
  app.get('/shedding', (_request, reply) => reply.code(503).header('retry-after', '5').send('queue full'));
  app.get('/broken', () => {
    throw new Error('boom');
  });
  await app.ready();
  return { app, lines };
}

describe('request log', () => {
  it('writes one line per request, carrying the request, its answer and its time', async (t) => {
    const { app, lines } = await loggedApp(true);
    t.after(() => app.close());
    await app.inject('/short');
    const requestLines = lines.filter((line) => line.url !== undefined);
    assert.equal(requestLines.length, 1, 'no separate "incoming request" line');
    const [line] = requestLines;
    assert.equal(line?.msg, 'request completed');
    assert.equal(line?.statusCode, 303);
    assert.equal(line?.url, '/short');
    assert.ok(typeof line?.reqId === 'string' && typeof line.responseTime === 'number');
  });

  it('with logRequests off (nginx logs every request), writes only failures, not load shed on purpose', async (t) => {
    const { app, lines } = await loggedApp(false);
    t.after(() => app.close());
    for (const url of ['/short', '/missing', '/busy', '/shedding', '/broken']) await app.inject(url);
    const logged = lines.filter((line) => line.url !== undefined).map((line) => [line.url, line.statusCode, line.msg]);
    assert.deepEqual(logged, [
      ['/busy', 503, 'request completed'],
      ['/broken', 500, 'request completed'],
    ]);
    // The exception itself is logged by the error handler (the app's sendError does the same).
    assert.ok(
      lines.some((line) => line.level === 50 && 'err' in line),
      'the error, with its stack',
    );
  });
});
