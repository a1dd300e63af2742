import { existsSync, unlinkSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';

/**
 * The running launcher listens on a Unix socket in its state folder, so `npm run rolling-restart`
 * can find it without a pid file, follow the progress and exit non-zero when the restart failed.
 * (SIGHUP to the launcher starts one too, with the progress in the launcher's own output.)
 *
 * The answer to POST /rolling-restart is one JSON object per line: `{"progress": "…"}` as it
 * goes, then `{"ok": true}` or `{"ok": false, "error": "…"}`.
 */
export type ControlResult = { ok: true } | { ok: false; error: string };
type ControlMessage = { progress: string } | ControlResult;

export function controlSocketPath(stateDir: string): string {
  return join(stateDir, 'launcher.sock');
}

export async function serveControl(
  socketPath: string,
  rollingRestart: (onProgress: (message: string) => void) => Promise<void>,
): Promise<Server> {
  // Left by a launcher that was killed (startStack has refused to start over a running one).
  if (existsSync(socketPath)) unlinkSync(socketPath);

  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/rolling-restart') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const send = (message: ControlMessage) => res.write(`${JSON.stringify(message)}\n`);
    rollingRestart((progress) => send({ progress })).then(
      () => res.end(`${JSON.stringify({ ok: true })}\n`),
      (error: unknown) => res.end(`${JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) })}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return server;
}

/** Asks the launcher on `socketPath` for a rolling restart; resolves with its final message. */
export function requestRollingRestart(socketPath: string, onProgress: (message: string) => void): Promise<ControlResult> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'POST', path: '/rolling-restart' }, (res) => {
      let buffered = '';
      let last: ControlResult | undefined;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const lines = (buffered + chunk).split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines.filter(Boolean)) {
          const message = JSON.parse(line) as ControlMessage;
          if ('progress' in message) onProgress(message.progress);
          else last = message;
        }
      });
      res.on('end', () => (last ? resolve(last) : reject(new Error('the launcher closed the connection before the restart ended'))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
