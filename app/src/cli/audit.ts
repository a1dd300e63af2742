/**
 * `npm run audit -- [--limit N] [--cursor C]`: the audit trail, newest first, one entry a line
 * (tab-separated: when, who, what, subject, detail); the next page's cursor last. In the image:
 * `node app/dist/cli/audit.js`.
 */
import { parseArgs } from 'node:util';
import type { BookmarkStore } from '../store/types.ts';
import { InvalidCursorError } from '../store/types.ts';
import { RefusedError, runCommand, UsageError } from './command.ts';

const USAGE = `Usage:
  audit [--limit N] [--cursor CURSOR]   newest first; N from 1 to 500, default 50`;

async function run(store: BookmarkStore, args: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({ args, options: { limit: { type: 'string' }, cursor: { type: 'string' } }, strict: true });
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw new UsageError(`--limit must be a whole number from 1 to 500, got '${values.limit}'`);
  let page: Awaited<ReturnType<BookmarkStore['access']['listAudit']>>;
  try {
    page = await store.access.listAudit({ limit, cursor: values.cursor });
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new RefusedError(`--cursor '${values.cursor}' is not one this command printed`);
    throw error;
  }
  if (page.items.length === 0) out('The audit trail is empty.');
  for (const entry of page.items) out([entry.at.toISOString(), entry.actor, entry.action, entry.subject, entry.detail ?? ''].join('\t'));
  if (page.nextCursor !== null) out(`More: --cursor ${page.nextCursor}`);
}

await runCommand('audit', USAGE, run);
