import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startStack } from '../../../stack/src/stack.ts';
import { type CheckTarget, startFastTarget } from './check-targets.ts';

/** What a scenario runs against: the native stack it started, or one given with --url. */
export interface Target {
  /** nginx: the public entry point. */
  url: string;
  /** Each app process's /metrics, straight to the process (each keeps its own counters). */
  metricsUrls: readonly string[];
  nginxStatusUrl: string | undefined;
  /** Each app process directly, for seeding (no rate limit) — empty for a --url target. */
  appUrls: readonly string[];
  /** App pids, for peak RSS from /proc — empty for a --url target. */
  pids(): ReadonlyArray<number | undefined>;
  /** The local site bookmarks point at (their URI check fetches it). */
  checkTarget: CheckTarget;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** An already running stack: its nginx URL. Unset: start one. */
  url?: string | undefined;
  metricsUrls?: readonly string[] | undefined;
  nginxStatusUrl?: string | undefined;
  instances: number;
  /** Extra environment for the app processes (CHECK_MODE, LOG_LEVEL…). */
  env?: Readonly<Record<string, string>>;
  /** nginx access log and the apps' info logs, as shipped; off by default for load tests. */
  logging?: boolean;
  /** The app processes' server module (the bench runs the build's, app/dist/server.js). */
  serverEntry?: string;
}

/**
 * Starts the native stack in temp folders (its own data, its own nginx prefix, a free port), so a
 * run never touches ./data or a stack already running from .stack/, and removes them on stop.
 * The URI checks may reach 127.0.0.1 (CHECK_ALLOW_PRIVATE), where the harness's targets run; the
 * per-client rate limit is lifted, since all the load comes from one client.
 */
export async function openTarget(options: TargetOptions): Promise<Target> {
  const checkTarget = await startFastTarget();
  if (options.url !== undefined) {
    const url = options.url.replace(/\/+$/, '');
    return {
      url,
      metricsUrls: options.metricsUrls ?? [],
      nginxStatusUrl: options.nginxStatusUrl ?? `${url}/nginx_status`,
      appUrls: [],
      pids: () => [],
      checkTarget,
      stop: () => checkTarget.close(),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-loadtest-'));
  const logging = options.logging ?? false;
  try {
    const stack = await startStack({
      instances: options.instances,
      port: 0,
      dataDir: join(dir, 'data'),
      stateDir: join(dir, 'state'),
      rateLimit: '100000r/s',
      accessLog: logging,
      quiet: true,
      ...(options.serverEntry !== undefined && { serverEntry: options.serverEntry }),
      env: { CHECK_ALLOW_PRIVATE: 'true', ...(logging ? {} : { LOG_LEVEL: 'warn' }), ...options.env },
    });
    return {
      url: stack.url,
      metricsUrls: stack.appUrls.map((appUrl) => `${appUrl}/metrics`),
      nginxStatusUrl: `${stack.url}/nginx_status`,
      appUrls: stack.appUrls,
      pids: () => stack.pids(),
      checkTarget,
      async stop() {
        await stack.stop();
        await checkTarget.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await checkTarget.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

interface BookmarkPage {
  items: Array<{ name: string }>;
}

/**
 * `count` short names to follow. A started stack gets `<prefix>0…` created through an app directly; a
 * given one lends its newest bookmarks, and gets new ones only if it has none (which needs it to
 * run with CHECK_ALLOW_PRIVATE=true, since they point at the harness's local site).
 */
export async function shortNames(target: Target, count: number, prefix = 'lt-'): Promise<string[]> {
  if (target.appUrls.length === 0) {
    const listed = await request(`${target.url}/api/bookmarks?limit=${Math.min(count, 500)}`);
    if (listed.statusCode === 200) {
      const names = ((await listed.body.json()) as BookmarkPage).items.map((item) => item.name);
      if (names.length > 0) return names;
    } else {
      await listed.body.dump();
    }
  }
  const base = target.appUrls[0] ?? target.url;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}${i}`;
    const response = await request(`${base}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `${target.checkTarget.url}/page/${i}`, name }),
    });
    const text = await response.body.text();
    if (response.statusCode !== 201 && response.statusCode !== 200) {
      throw new Error(
        `creating bookmark ${name} answered ${response.statusCode}: ${text.slice(0, 300)}` +
          (target.appUrls.length === 0
            ? " (a --url stack must run with CHECK_ALLOW_PRIVATE=true to bookmark the harness's local site)"
            : ''),
      );
    }
    names.push(name);
  }
  return names;
}

/** The stylesheet the page links, hashed name and all, as a browser would find it. */
export async function stylesheetPath(url: string): Promise<string> {
  const response = await request(`${url}/`);
  const html = await response.body.text();
  const href = /<link\s+rel="stylesheet"\s+href="([^"]+)"/.exec(html)?.[1];
  if (response.statusCode !== 200 || href === undefined) {
    throw new Error(`GET ${url}/ answered ${response.statusCode} with no stylesheet link`);
  }
  return href;
}
