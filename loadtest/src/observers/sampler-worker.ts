import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { nginxInFlight } from '../../../k6/lib/stub-status.ts';
import type { SamplerMessage, SamplerOptions } from './sampler.ts';
import { scrapeAgent, scrapeApps, scrapeNginx } from './scrape.ts';

// The sampler's thread (see InFlightSampler): scrapes the apps and nginx, posting each sample to
// the main thread, until told to stop or maxSamples is reached.
const options = workerData as SamplerOptions;
const port = parentPort;
if (port === null) throw new Error('sampler-worker.ts runs as a worker thread');

let stopped = false;
port.on('message', () => {
  stopped = true;
});

const now = () => performance.timeOrigin + performance.now();
const { meanIntervalMs = 100, maxSamples = 100_000, appMetricsUrls, nginxStatusUrl } = options;
let failures = 0;
for (let taken = 0; !stopped && taken < maxSamples; taken++) {
  await sleep(meanIntervalMs * (0.5 + Math.random()));
  if (stopped) break;
  const at = now();
  const [apps, nginx] = await Promise.allSettled([
    appMetricsUrls.length === 0 ? Promise.resolve(undefined) : scrapeApps(appMetricsUrls),
    nginxStatusUrl === undefined ? Promise.resolve(undefined) : scrapeNginx(nginxStatusUrl),
  ]);
  if (apps.status === 'rejected' || nginx.status === 'rejected') failures++;
  const appCounters = apps.status === 'fulfilled' ? apps.value : undefined;
  const status = nginx.status === 'fulfilled' ? nginx.value : undefined;
  const message: SamplerMessage = {
    kind: 'sample',
    sample: {
      at,
      apps: appCounters?.reduce((sum, counters) => sum + Math.max(0, counters.inFlight - 1), 0),
      nginx: status === undefined ? undefined : nginxInFlight(status),
      nginxActive: status === undefined ? undefined : Math.max(0, status.active - 1),
    },
  };
  port.postMessage(message);
}
port.postMessage({ kind: 'done', failures } satisfies SamplerMessage);
await scrapeAgent.close();
// The 'message' listener keeps the port, and so the thread, alive until it is closed.
port.close();
