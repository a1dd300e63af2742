import { controlSocketPath, requestRollingRestart } from './control.ts';
import { DEFAULT_STATE_DIR } from './stack.ts';

/**
 * `npm run rolling-restart`: asks the running `npm start` to replace its app processes one at a
 * time, prints the progress, and exits 0 once every process is new and in rotation, 1 otherwise.
 * STACK_DIR: as given to the launcher (default .stack/).
 */
const socketPath = controlSocketPath(process.env.STACK_DIR || DEFAULT_STATE_DIR);
try {
  const result = await requestRollingRestart(socketPath, (message) => console.log(message));
  if (!result.ok) {
    console.error(`rolling restart failed: ${result.error}`);
    process.exit(1);
  }
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED') {
    console.error(`No running stack answers on ${socketPath}: start one with \`npm start\`.`);
  } else {
    console.error(`rolling restart failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
}
