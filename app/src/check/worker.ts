import { type CancelFlag, watchCancelFlag } from './cancel-flag.ts';
import { checkUri } from './check-uri.ts';
import type { CheckOptions, CheckResult } from './types.ts';

export interface CheckTask {
  uri: string;
  options: CheckOptions;
  /** Present when the caller can give up: set, it cancels the check, running or still queued. */
  cancel?: CancelFlag;
}

/** The piscina entry point: one check per task, several at once per thread (they are I/O bound). */
export default async function runCheckTask({ uri, options, cancel }: CheckTask): Promise<CheckResult> {
  if (cancel === undefined) return checkUri(uri, options);
  const controller = new AbortController();
  const release = watchCancelFlag(cancel, () => controller.abort(new Error('check cancelled by the caller')));
  try {
    return await checkUri(uri, options, controller.signal);
  } finally {
    release();
  }
}
