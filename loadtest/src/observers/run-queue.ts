import { readFileSync } from 'node:fs';

/**
 * How many tasks on this machine were runnable (running or queued for a CPU), on average while a
 * leg ran: /proc/stat's procs_running, sampled. On a machine where generator, nginx and apps
 * share the cores, anything above the number of CPUs is a queue, and a request's tail latency is
 * mostly its turn in that queue, not the code that answers it. The sampler itself, running as it
 * reads, is left out.
 */
export function sampleRunnableTasks(intervalMs = 50): { stop(): number | undefined } {
  const samples: number[] = [];
  const sample = () => {
    const running = procsRunning();
    if (running !== undefined) samples.push(running - 1);
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return samples.length === 0 ? undefined : samples.reduce((a, b) => a + b, 0) / samples.length;
    },
  };
}

function procsRunning(): number | undefined {
  try {
    const match = /^procs_running (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}
