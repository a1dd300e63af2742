import { Agent, request } from 'undici';
import { LatencyRecorder } from '../analysis/latency.ts';

/** One kind of single request: what to send for the i-th sample, and the status that counts as answered. */
export interface Operation {
  name: string;
  send(sample: number): { method: 'GET' | 'POST'; path: string; body?: string };
  expect: number;
}

export interface OperationResult {
  name: string;
  samples: number;
  /** Answered with another status, or not at all. */
  failures: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

/**
 * Times `samples` requests of each operation, one at a time over one keep-alive connection, the
 * operations in turns (one of each, then again): a busy moment of the shared machine then falls
 * on every operation alike instead of on whichever ran during it.
 */
export async function measureOperations(baseUrl: string, operations: readonly Operation[], samples: number): Promise<OperationResult[]> {
  const agent = new Agent({ connections: 1, keepAliveTimeout: 30_000, pipelining: 1 });
  const recorders = operations.map(() => new LatencyRecorder());
  const failures = operations.map(() => 0);
  try {
    for (let sample = 0; sample < samples; sample++) {
      for (const [i, operation] of operations.entries()) {
        const { method, path, body } = operation.send(sample);
        const began = performance.now();
        try {
          const response = await request(`${baseUrl}${path}`, {
            method,
            dispatcher: agent,
            ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
          });
          await response.body.dump();
          if (response.statusCode !== operation.expect) failures[i] = (failures[i] ?? 0) + 1;
        } catch {
          failures[i] = (failures[i] ?? 0) + 1;
        }
        recorders[i]?.record(performance.now() - began);
      }
    }
  } finally {
    await agent.close();
  }
  return operations.map((operation, i) => {
    const recorder = recorders[i] ?? new LatencyRecorder();
    return {
      name: operation.name,
      samples,
      failures: failures[i] ?? 0,
      p50Ms: recorder.percentile(50),
      p99Ms: recorder.percentile(99),
      meanMs: recorder.mean,
    };
  });
}
