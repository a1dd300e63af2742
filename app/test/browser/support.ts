import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { Stack } from '../../../stack/src/stack.ts';
import { type Owner, startTarget } from '../../../test/support/index.ts';

/** Debian's chromium: playwright-core drives it, it never downloads a browser of its own. */
export const CHROMIUM = '/usr/bin/chromium';

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../test-artifacts/browser/', import.meta.url));

/**
 * Why the browser tests cannot run here, or undefined when they can. Under CI=true a missing
 * browser is a failure, not a skip: CI installs it, and a green run must mean the tests ran.
 */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `${CHROMIUM} is missing (apt-get install chromium): the browser tests are skipped`;
  if (process.env.CI === 'true') throw new Error(`${reason}, which CI does not allow`);
  process.stderr.write(`\n*** ${reason} ***\n\n`);
  return reason;
}

/** A fresh browser with its own temporary profile (launch() never reuses a user data dir). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 });
}

export function screenshotPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return join(ARTIFACTS_DIR, name);
}

/**
 * Console errors and uncaught exceptions of a page. A CSP violation (an inline style or script
 * the policy refuses) is reported as a console error, so an empty list also means the page kept
 * to the policy.
 */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // Chromium logs every 4xx/5xx, the page itself included; an error page is what these tests
    // ask for, so only a failed subresource (stylesheet, script, logo) is a problem.
    const failedDocument =
      message.location().url === page.url() && message.text().startsWith('Failed to load resource: the server responded');
    if (!failedDocument) problems.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${page.url()}: uncaught ${error.message}`));
  return problems;
}

/** A computed style of the first element matching `selector`. */
export function computedStyle(page: Page, selector: string, property: string): Promise<string> {
  // The project compiles without the DOM library, so code that runs in the page is a string.
  return page.evaluate<string>(
    `getComputedStyle(document.querySelector(${JSON.stringify(selector)})).getPropertyValue(${JSON.stringify(property)})`,
  );
}

/** The whole document's width beyond the viewport, in CSS pixels: 0 means no horizontal scrolling. */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
}

export interface ContrastProblem {
  text: string;
  color: string;
  background: string;
  ratio: number;
  required: number;
}

/**
 * WCAG 2 contrast of every visible piece of text on the page against the background it is drawn
 * on (the nearest ancestor with an opaque background): 4.5:1, or 3:1 for large text.
 */
export function contrastProblems(page: Page): Promise<ContrastProblem[]> {
  return page.evaluate<ContrastProblem[]>(`(() => {
    const parse = (value) => {
      const parts = value.match(/[\\d.]+/g).map(Number);
      return { rgb: parts.slice(0, 3), alpha: parts.length > 3 ? parts[3] : 1 };
    };
    const luminance = ([r, g, b]) => {
      const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const backgroundOf = (element) => {
      for (let node = element; node; node = node.parentElement) {
        const background = parse(getComputedStyle(node).backgroundColor);
        if (background.alpha === 1) return background.rgb;
      }
      return [255, 255, 255];
    };
    const problems = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement;
      const text = node.textContent.trim();
      if (!element || text === '' || element.closest('[hidden], .visually-hidden')) continue;
      if (element.getClientRects().length === 0) continue;
      const style = getComputedStyle(element);
      const color = parse(style.color).rgb;
      const background = backgroundOf(element);
      const [light, dark] = [luminance(color), luminance(background)].sort((a, b) => b - a);
      const ratio = (light + 0.05) / (dark + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      const required = large ? 3 : 4.5;
      if (ratio < required) {
        problems.push({ text: text.slice(0, 40), color: style.color, background: 'rgb(' + background.join(', ') + ')', ratio: Math.round(ratio * 100) / 100, required });
      }
    }
    return problems;
  })()`);
}

/** Series of http_requests_total summed per route, from every app process directly. */
export async function appRequestsByRoute(stack: Stack): Promise<Map<string, number>> {
  const byRoute = new Map<string, number>();
  for (const appUrl of stack.appUrls) {
    const response = await fetch(`${appUrl}/metrics`);
    assert.equal(response.status, 200, `${appUrl}/metrics`);
    for (const line of (await response.text()).split('\n')) {
      const [, labels, count] = /^http_requests_total\{(.*)\} (\d+)$/.exec(line) ?? [];
      const route = labels === undefined ? undefined : /route="([^"]*)"/.exec(labels)?.[1];
      if (route !== undefined) byRoute.set(route, (byRoute.get(route) ?? 0) + Number(count));
    }
  }
  return byRoute;
}

/**
 * The URIs nginx logged for requests that ended while `action` ran (from the stack's log tail).
 * nginx writes a line when a request ends and the stack tails the file a few times a second, so
 * a marker request before and after brackets the action; each marker's line is waited for.
 */
export async function requestsNginxSaw(stack: Stack, action: () => Promise<void>): Promise<string[]> {
  const start = await logMarker(stack);
  await action();
  const end = await logMarker(stack);
  const uris = await nginxUris(stack);
  return uris.slice(uris.indexOf(start) + 1, uris.indexOf(end));
}

async function nginxUris(stack: Stack): Promise<string[]> {
  return (await stack.accessLogLines()).map((line) => /"uri":"([^"]*)"/.exec(line)?.[1]).filter((uri): uri is string => uri !== undefined);
}

async function logMarker(stack: Stack): Promise<string> {
  const marker = `/healthz?marker=${Math.random().toString(36).slice(2)}`;
  await (await fetch(stack.url + marker)).arrayBuffer();
  const deadline = Date.now() + 5_000;
  while (!(await nginxUris(stack)).includes(marker)) {
    if (Date.now() > deadline) throw new Error(`nginx's access log did not show ${marker} within 5 s`);
    await sleep(50);
  }
  return marker;
}

export interface LoadRecord {
  url: string;
  /** Where the bytes came from: the network, Chromium's memory cache or its disk (HTTP) cache. */
  source: 'network' | 'memory-cache' | 'disk-cache';
}

/**
 * Every resource a page loads from now on, and whether it went to the network, as the DevTools
 * protocol tells it. Playwright's own `request` event fires for cache hits too, so it cannot tell
 * them apart. `take()` returns what was recorded since the last call.
 */
export async function recordLoads(context: BrowserContext, page: Page): Promise<{ take(): LoadRecord[] }> {
  const cdp = await context.newCDPSession(page);
  let loads = new Map<string, LoadRecord>();
  cdp.on('Network.requestWillBeSent', (event) => {
    loads.set(event.requestId, { url: event.request.url, source: 'network' });
  });
  cdp.on('Network.requestServedFromCache', (event) => {
    const load = loads.get(event.requestId);
    if (load) load.source = 'memory-cache';
  });
  cdp.on('Network.responseReceived', (event) => {
    const load = loads.get(event.requestId);
    if (load && event.response.fromDiskCache === true) load.source = 'disk-cache';
  });
  await cdp.send('Network.enable');
  return {
    take() {
      const taken = [...loads.values()];
      loads = new Map();
      return taken;
    },
  };
}

/**
 * The sites people bookmark, on 127.0.0.1: pages with titles, one that refuses robots (403, a
 * warning badge), and one that answers only when the test lets it (to keep a check slot busy).
 */
export interface TargetSite {
  url: string;
  /** Resolves when a request for /slow has arrived (the check is running). */
  slowArrived(): Promise<void>;
  /** Lets every waiting /slow request finish. */
  releaseSlow(): void;
}

export const TARGET_TITLES: Readonly<Record<string, string>> = {
  '/garden': 'A long read about gardens',
  '/recipes/bread': 'Sourdough bread, step by step',
  '/landing': 'You have landed',
};

/** The site the browser tests bookmark, closed (waiting /slow requests and all) when `owner` is done. */
export async function startTargetSite(owner: Owner): Promise<TargetSite> {
  let arrived = Promise.withResolvers<void>();
  const waiting = new Set<ServerResponse>();
  const page = (response: ServerResponse, status: number, title: string) => {
    response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html lang="en"><head><title>${title}</title></head><body><h1>${title}</h1></body></html>`);
  };
  const releaseSlow = () => {
    for (const response of waiting) page(response, 200, 'Slow but fine');
    waiting.clear();
    arrived = Promise.withResolvers<void>();
  };
  // Added before the server's own clean-up: the waiting /slow requests are answered before it closes.
  owner.after(releaseSlow);
  const { url } = await startTarget(owner, (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://target').pathname;
    if (path === '/slow') {
      waiting.add(response);
      arrived.resolve();
      return;
    }
    if (path === '/members-only') return page(response, 403, 'Members only');
    page(response, 200, TARGET_TITLES[path] ?? 'A page somewhere');
  });
  return { url, slowArrived: () => arrived.promise, releaseSlow };
}
