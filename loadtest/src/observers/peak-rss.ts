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

/** The highest anonymous and file-backed RSS seen for one process while tracked. */
export interface RssSplit {
  anonymousBytes: number;
  fileBytes: number;
}

/**
 * Samples each process's RssAnon and RssFile (/proc/<pid>/status) every `everyMs` until stopped,
 * keeping the highest of each: the kernel keeps a high-water mark of the sum (VmHWM) but not of
 * its parts, and the parts answer different questions (the process's own memory vs pages of the
 * node binary every Node process on the host shares). A process restarted meanwhile is a new pid.
 */
export function trackRssSplit(pids: () => ReadonlyArray<number | undefined>, everyMs = 100): { stop(): Map<number, RssSplit> } {
  const peaks = new Map<number, RssSplit>();
  const sample = (): void => {
    for (const pid of pids()) {
      if (pid === undefined) continue;
      let status: string;
      try {
        status = readFileSync(`/proc/${pid}/status`, 'utf8');
      } catch {
        continue;
      }
      const anonymous = fieldBytes(status, 'RssAnon');
      const file = fieldBytes(status, 'RssFile');
      if (anonymous === undefined || file === undefined) continue;
      const peak = peaks.get(pid) ?? { anonymousBytes: 0, fileBytes: 0 };
      peaks.set(pid, { anonymousBytes: Math.max(peak.anonymousBytes, anonymous), fileBytes: Math.max(peak.fileBytes, file) });
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

/** A `Name:   1234 kB` line of a /proc file, in bytes. */
function kilobytesField(path: string, field: string): number | undefined {
  try {
    return fieldBytes(readFileSync(path, 'utf8'), field);
  } catch {
    return undefined;
  }
}

function fieldBytes(text: string, field: string): number | undefined {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}
