import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Where every process's output goes, one line at a time, with the name of the process. */
export type LineSink = (source: string, line: string) => void;

/** Feeds a child's stdout or stderr to the sink line by line. */
export function pipeLines(stream: Readable, source: string, sink: LineSink): void {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => sink(source, line));
}

/**
 * Keeps the last lines of every process, printed or not, so a failing test (or a failed start)
 * can show what the processes said.
 */
export class LogTail {
  readonly #lines: string[] = [];
  readonly #limit: number;

  constructor(limit = 500) {
    this.#limit = limit;
  }

  add(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#limit) this.#lines.shift();
  }

  lines(): string[] {
    return [...this.#lines];
  }
}

/** `app1  | {"level":30,…}`: names padded so the bars line up. */
export function tagLine(source: string, line: string, width: number): string {
  return `${source.padEnd(width)} | ${line}`;
}

/**
 * Follows a file that another process appends to (nginx's access log) and feeds its complete
 * lines to the sink. Polling keeps it simple and portable; a quarter second is quick enough for
 * someone watching a terminal.
 */
export function tailLines(path: string, source: string, sink: LineSink, intervalMs = 250): { stop(): Promise<void> } {
  let offset = 0;
  let partial = '';
  let reading: Promise<void> = Promise.resolve();
  const readNew = async () => {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch {
      return; // not created yet
    }
    try {
      const { size } = await handle.stat();
      if (size < offset) offset = 0; // truncated: start over
      while (offset < size) {
        const buffer = Buffer.alloc(Math.min(size - offset, 1 << 20));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        const lines = (partial + buffer.toString('utf8', 0, bytesRead)).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) sink(source, line);
      }
    } finally {
      await handle.close();
    }
  };
  const readNext = () => {
    reading = reading.then(readNew).catch((error: unknown) => sink(source, `cannot read ${path}: ${String(error)}`));
  };
  const timer = setInterval(readNext, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      readNext();
      await reading;
    },
  };
}
