import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

/** Where and when a result was measured: numbers from different machines are not comparable. */
export interface RunInfo {
  startedAt: string;
  node: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** 1-minute load average when the run began: anything else running skews the numbers. */
  loadAverage: number;
}

export function runInfo(): RunInfo {
  return {
    startedAt: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage: Number((loadavg()[0] ?? 0).toFixed(2)),
  };
}

export function describeRun(info: RunInfo): string {
  return `${info.startedAt}, Node ${info.node}, ${info.cpus} CPU (${info.cpuModel}), ${info.memoryGiB} GiB, load average ${info.loadAverage} at the start; load generator, nginx and apps on the same machine`;
}
