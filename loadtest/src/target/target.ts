import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startStack } from '../../../stack/src/stack.ts';
import { SuiteCleanups } from '../../../test/support/index.ts';
import { makeTestCa } from '../../../test/support/tls.ts';
import type { K6Client } from '../k6.ts';
import { type CheckTarget, startFastTarget } from './check-targets.ts';

/** What a scenario runs against: the native stack it started, or one given with --url. */
export interface Target {
  /** nginx: the public entry point. */
  url: string;
  /** Plain HTTP into the same nginx: `url` itself, or with HTTPS its internal plain port. */
  plainUrl: string;
  /** Each app process's /metrics, straight to the process (each keeps its own counters). */
  metricsUrls: readonly string[];
  nginxStatusUrl: string | undefined;
  /** Each app process directly, for seeding (no rate limit) — empty for a --url target. */
  appUrls: readonly string[];
  /** App pids, for peak RSS from /proc — empty for a --url target. */
  pids(): ReadonlyArray<number | undefined>;
  /** nginx's master — undefined for a --url target. */
  nginxPid(): number | undefined;
  /** The local site bookmarks point at (their URI check fetches it). */
  checkTarget: CheckTarget;
  /** How k6 reaches `url`: over HTTPS, the CA it trusts, and HTTP/2 or HTTP/1.1. */
  k6Client: K6Client;
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
  /**
   * A started stack serves HTTPS (docs/https.md), its certificate from a CA made for the run
   * (test/support/tls.ts) that k6 alone trusts; nginx's stub_status is then read on its internal
   * plain port. With `url`: use `caFile` for an https:// stack instead.
   */
  https?: boolean;
  /** With an https:// `url`: the CA certificate (PEM) k6 is to trust. */
  caFile?: string | undefined;
  /** k6 offers HTTP/1.1 only, not HTTP/2 (over HTTPS; plain HTTP is HTTP/1.1 anyway). */
  http1?: boolean;
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
      plainUrl: url,
      metricsUrls: options.metricsUrls ?? [],
      nginxStatusUrl: options.nginxStatusUrl ?? `${url}/nginx_status`,
      appUrls: [],
      pids: () => [],
      nginxPid: () => undefined,
      checkTarget,
      k6Client: { caFile: options.caFile, http1: options.http1 },
      stop: () => checkTarget.close(),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-loadtest-'));
  const logging = options.logging ?? false;
  const fixtures = new SuiteCleanups();
  try {
    const ca = options.https === true ? makeTestCa(fixtures) : undefined;
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
      ...(ca !== undefined && { tls: { ...ca.issue('site'), port: 0 } }),
    });
    return {
      url: stack.url,
      plainUrl: stack.internalUrl,
      metricsUrls: stack.appUrls.map((appUrl) => `${appUrl}/metrics`),
      // Plain HTTP (the internal port with HTTPS on), so this process reads it without the CA.
      nginxStatusUrl: `${stack.internalUrl}/nginx_status`,
      appUrls: stack.appUrls,
      pids: () => stack.pids(),
      nginxPid: () => stack.nginxPid(),
      checkTarget,
      k6Client: { caFile: ca?.caCertFile, http1: options.http1 },
      async stop() {
        await stack.stop();
        await checkTarget.close();
        await fixtures.run();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await checkTarget.close();
    await fixtures.run();
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
