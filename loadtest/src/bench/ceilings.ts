import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePorts } from '../../../stack/src/ports.ts';
import { startNginx, stopChild } from './nginx.ts';

/** A server the bench points load at, and how to take it down again. */
export interface Running {
  url: string;
  stop(): Promise<void>;
}

const MAP_SERVER = new URL('./map-server.ts', import.meta.url).pathname;

/** (1) nginx alone answering `return 303`: the most any proxied setup here could do. */
export async function startReturnCeiling(): Promise<Running> {
  const prefix = mkdtempSync(join(tmpdir(), 'linkyard-bench-nginx-'));
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  const nginx = await startNginx(prefix, { kind: 'return', port });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await nginx.stop();
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

/** (2) the same nginx in front of `instances` node:http processes doing a Map lookup. */
export async function startMapCeiling(instances: number): Promise<Running> {
  const children: ChildProcess[] = [];
  const prefix = mkdtempSync(join(tmpdir(), 'linkyard-bench-nginx-'));
  const cleanUp = async () => {
    await Promise.all(children.map(stopChild));
    rmSync(prefix, { recursive: true, force: true });
  };
  try {
    const upstreamPorts = await Promise.all(
      Array.from({ length: instances }, () => {
        const child = spawn(process.execPath, [MAP_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(child);
        return firstLine(child).then(Number);
      }),
    );
    const [port] = await freePorts(1);
    if (port === undefined) throw new Error('no free port');
    const nginx = await startNginx(prefix, { kind: 'proxy', port, upstreamPorts });
    return {
      url: `http://127.0.0.1:${port}`,
      async stop() {
        await nginx.stop();
        await cleanUp();
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    if (child.stdout === null) return reject(new Error('no stdout'));
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error('map server did not start within 5 s')), 5000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      lines.close();
      resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`map server exited with ${code}`)));
  });
}
