/**
 * `npm run move -- --from SOURCE --to TARGET [--batch N]`: copies a whole store, SQLite ⇄
 * PostgreSQL, into an empty one, resumable (run it again after any interruption) and verified
 * (counts and sha256 per table on both sides). In the image: `node app/dist/cli/move.js …`
 * (docs/data.md#moving-between-sqlite-and-postgresql).
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { configuredLocation, parseLocation } from '../data/location.ts';
import { MoveRefusedError, moveStore } from '../data/move.ts';
import { RefusedError, runTool, UsageError } from './command.ts';

const USAGE = `Usage:
  move --from SOURCE --to TARGET [--batch ROWS]
    SOURCE, TARGET  a SQLite file, a data folder (DATA_DIR, holding linkyard.sqlite), or a
                    postgres://user@host:port/database URL (password from PGPASSWORD or ~/.pgpass);
                    one of them left out is the configured store (DATABASE_URL with
                    DATABASE_PASSWORD_FILE, else DATA_DIR), as the app reads it
    --batch ROWS    rows per transaction, default 5000
  Stop the stack on the source first. The target must be empty, or what an interrupted move of
  the same source left: the move then resumes where it stopped.`;

async function run(args: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, to: { type: 'string' }, batch: { type: 'string' } },
    strict: true,
  });
  if (values.from === undefined && values.to === undefined)
    throw new UsageError('--from or --to is needed (the other one defaults to the configured store)');
  const batchRows = values.batch === undefined ? 5000 : Number(values.batch);
  if (!Number.isInteger(batchRows) || batchRows < 1 || batchRows > 100_000)
    throw new UsageError(`--batch must be a whole number from 1 to 100000, got '${values.batch}'`);
  const configured = () => configuredLocation(loadConfig());
  const from = values.from === undefined ? configured() : parseLocation(values.from);
  const to = values.to === undefined ? configured() : parseLocation(values.to);
  if (from.engine === 'sqlite' && !existsSync(from.file)) throw new RefusedError(`no SQLite store at ${from.file}`);
  const started = performance.now();
  let results: Awaited<ReturnType<typeof moveStore>>;
  try {
    results = await moveStore(from, to, { batchRows, out });
  } catch (error) {
    if (error instanceof MoveRefusedError) throw new RefusedError(error.message);
    throw error;
  }
  for (const result of results) {
    out(`${result.equal ? 'same' : 'DIFFERS'}\t${result.table}\t${result.rows} rows\tsha256 ${result.sha256.slice(0, 16)}`);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const differing = results.filter((result) => !result.equal).map((result) => result.table);
  if (differing.length > 0) {
    throw new RefusedError(
      `the target differs from the source in ${differing.join(', ')}: was the source written to during the move? ` +
        'Stop its stack, empty the target and move again',
    );
  }
  out(`Done in ${seconds} s: every table verified (${results.reduce((sum, result) => sum + result.rows, 0)} rows).`);
}

await runTool('move', USAGE, run);
