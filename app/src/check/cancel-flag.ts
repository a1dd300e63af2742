/**
 * How a caller cancels one check on a worker thread: one Int32 in shared memory, 0 until the
 * caller gives up. A flag, not a MessageChannel per task: a channel's two ports cost the main
 * thread more than the rest of passing a task, and a flag set before the task reaches its thread
 * is still there when it arrives. Loaded by both threads, so it imports nothing: the main thread
 * must not carry the checking code.
 * Why and the figures: docs/decisions/0006-check-cancellation-through-shared-memory.md
 */
export type CancelFlag = Int32Array;

const CANCELLED = 1;

export function newCancelFlag(): CancelFlag {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

/** The caller's side: set the flag and wake the thread's wait on it. */
export function cancel(flag: CancelFlag): void {
  Atomics.store(flag, 0, CANCELLED);
  Atomics.notify(flag, 0);
}

/**
 * The worker's side: calls `onCancel` when the flag is set (at once if it already is) until the
 * returned release is called, which ends the wait, so no waiter outlives its check.
 */
export function watchCancelFlag(flag: CancelFlag, onCancel: () => void): () => void {
  let released = false;
  const waiting = Atomics.waitAsync(flag, 0, 0);
  if (!waiting.async) onCancel();
  else {
    void waiting.value.then(() => {
      if (!released && Atomics.load(flag, 0) === CANCELLED) onCancel();
    });
  }
  return () => {
    released = true;
    Atomics.notify(flag, 0);
  };
}
