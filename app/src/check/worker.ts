import type { MessagePort } from 'node:worker_threads';
import { checkUri } from './check-uri.ts';
import type { CheckOptions, CheckResult } from './types.ts';

export interface CheckTask {
  uri: string;
  options: CheckOptions;
  /** Present when the caller can give up: any message on it cancels the check. */
  cancel?: MessagePort;
}

/** The piscina entry point: one check per task, several at once per thread (they are I/O bound). */
export default async function runCheckTask({ uri, options, cancel }: CheckTask): Promise<CheckResult> {
  if (cancel === undefined) return checkUri(uri, options);
  const controller = new AbortController();
  cancel.once('message', () => controller.abort(new Error('check cancelled by the caller')));
  try {
    return await checkUri(uri, options, controller.signal);
  } finally {
    cancel.close();
  }
}
