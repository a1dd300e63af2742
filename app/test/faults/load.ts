/**
 * Steady load for the fault tests, recorded answer by answer: loops creating bookmarks (the form
 * and the API by turns, each under a new name), loops following redirects, and loops viewing the
 * page (which reads the store every time). What a fault test needs afterwards is here: every
 * answer with its phase and time, the creates that were acknowledged (so the store can be checked
 * for each), and how many redirects each name answered (so the visits written can be compared).
 */
import assert from 'node:assert/strict';
import { formPost, httpRequest, runLoad } from '../client.ts';

export interface Answer {
  what: 'form' | 'api' | 'redirect' | 'page';
  name: string;
  /** 0: no HTTP answer at all (connection refused or reset). */
  status: number;
  /** The phase when the request was sent, and when its answer came. */
  sentIn: string;
  answeredIn: string;
  /** When the answer came (Date.now()), and how long it took. */
  at: number;
  ms: number;
  retryAfter: string | undefined;
  /** The form's error text, or the API's `message`. */
  message: string | undefined;
  /** For the form: the page came back with the long URI that was typed in its field. */
  keptTyped: boolean;
}

export interface Acknowledged {
  name: string;
  longuri: string;
}

export interface LoadRecord {
  answers: Answer[];
  acknowledged: Acknowledged[];
  /** 303s answered per name: the visits that must be written. */
  redirects: Map<string, number>;
}

export interface FaultLoadOptions {
  /** Where requests go: the stack's nginx. */
  url: string;
  /** A page the URI check accepts; each create bookmarks `${target}/?<name>`. */
  target: string;
  /** Existing names the redirect loops follow, round robin. */
  redirectNames: readonly string[];
  createLoops: number;
  redirectLoops: number;
  pageLoops: number;
  /** Created names start with this, so several runs on one store do not collide. */
  prefix: string;
  /** The test's current phase ('before', 'outage'…), read when a request is sent and answered. */
  phase: () => string;
  /** The load stops when this settles. */
  until: Promise<unknown>;
  /** Told of each answer as it comes, for a scenario that waits on what clients see. */
  onAnswer?: (answer: Answer) => void;
}

const ALERT = /role="alert">([^<]*)</;

function decodeHtml(text: string): string {
  return text
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export async function faultLoad(options: FaultLoadOptions): Promise<LoadRecord> {
  const record: LoadRecord = { answers: [], acknowledged: [], redirects: new Map() };
  const { url, target, redirectNames, createLoops, phase } = options;

  const { redirectLoops } = options;
  await runLoad(createLoops + redirectLoops + options.pageLoops, options.until, async (loop, i, agent, onResend) => {
    const sentIn = phase();
    const began = performance.now();
    let what: Answer['what'] = loop < createLoops ? 'form' : loop < createLoops + redirectLoops ? 'redirect' : 'page';
    let name = '?';
    let status = 0;
    let retryAfter: string | undefined;
    let message: string | undefined;
    let keptTyped = false;
    let error: unknown;
    try {
      if (loop < createLoops) {
        name = `${options.prefix}-${loop}-${i}`;
        const longuri = `${target}/?${name}`;
        what = i % 2 === 0 ? 'form' : 'api';
        const response =
          what === 'form'
            ? await httpRequest(`${url}/`, { ...formPost({ longuri, shortname: name }), agent, onResend })
            : await httpRequest(`${url}/api/bookmarks`, {
                method: 'POST',
                body: JSON.stringify({ uri: longuri, name }),
                headers: { 'content-type': 'application/json' },
                agent,
                onResend,
              });
        status = response.status;
        retryAfter = response.headers['retry-after'] as string | undefined;
        if (what === 'form') {
          const alert = ALERT.exec(response.body)?.[1];
          message = alert === undefined ? undefined : decodeHtml(alert);
          keptTyped = response.body.includes(`name="longuri" type="text"`) && response.body.includes(`value="${longuri}"`);
        } else if (status >= 400 && response.headers['content-type']?.toString().startsWith('application/json')) {
          message = (JSON.parse(response.body) as { message?: string }).message;
        }
        if (status === 303 || status === 201) record.acknowledged.push({ name, longuri });
      } else if (what === 'page') {
        const response = await httpRequest(`${url}/`, { agent, onResend });
        status = response.status;
        retryAfter = response.headers['retry-after'] as string | undefined;
      } else {
        const next = redirectNames[i % redirectNames.length];
        if (next === undefined) throw new Error('redirect loops need at least one name in redirectNames');
        name = next;
        const response = await httpRequest(`${url}/${name}`, { agent, onResend });
        status = response.status;
        retryAfter = response.headers['retry-after'] as string | undefined;
        if (status === 303) record.redirects.set(name, (record.redirects.get(name) ?? 0) + 1);
      }
    } catch (caught) {
      error = caught;
    }
    const answer: Answer = {
      what,
      name,
      status,
      sentIn,
      answeredIn: phase(),
      at: Date.now(),
      ms: performance.now() - began,
      retryAfter,
      message: message ?? (error instanceof Error ? error.message : undefined),
      keptTyped,
    };
    record.answers.push(answer);
    options.onAnswer?.(answer);
    return undefined;
  });
  return record;
}

/** "form 303×120 503×40 · redirect 303×900": the answers of a phase, counted, for diagnostics. */
export function tally(answers: readonly Answer[]): string {
  const counts = new Map<string, number>();
  for (const answer of answers) {
    const key = `${answer.what} ${answer.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .sort()
    .map(([key, count]) => `${key}×${count}`)
    .join(', ');
}

/** The slowest answer, in ms. */
export function slowest(answers: readonly Answer[]): number {
  return answers.reduce((max, answer) => Math.max(max, answer.ms), 0);
}

/** Fails naming how many answers were wrong and the first few, instead of printing thousands. */
export function assertNone(wrong: readonly Answer[], what: string): void {
  if (wrong.length === 0) return;
  const sample = wrong
    .slice(0, 3)
    .map((answer) => JSON.stringify(answer))
    .join('\n');
  assert.fail(`${wrong.length} ${what}; the first:\n${sample}`);
}
