import { readFileSync } from 'node:fs';

/**
 * A process's peak resident set size in bytes (VmHWM, the kernel's high-water mark), or undefined
 * when it is gone or this is not Linux. Exact, where sampling RSS would miss a short peak; the
 * process's worker threads (the check pool) are in it too.
 */
export function peakRssBytes(pid: number): number | undefined {
  return kilobytesField(`/proc/${pid}/status`, 'VmHWM');
}

/** Resident set size now (VmRSS), next to the peak: a start-up spike and a steady state differ. */
export function rssBytes(pid: number): number | undefined {
  return kilobytesField(`/proc/${pid}/status`, 'VmRSS');
}

/**
 * The part of RSS that is the process's own (heaps, stacks, malloc): the rest is file-backed,
 * mostly the node binary's code, which every Node process on the host maps and shares.
 */
export function anonymousBytes(pid: number): number | undefined {
  return kilobytesField(`/proc/${pid}/smaps_rollup`, 'Anonymous');
}

/** A `Name:   1234 kB` line of a /proc file, in bytes. */
function kilobytesField(path: string, field: string): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(readFileSync(path, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}
