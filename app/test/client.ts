import { Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** A keep-alive agent, as a browser holds connections; default: a new connection. */
  agent?: Agent;
  /** Source address (127.0.0.2 to look like a client from outside). */
  localAddress?: string;
  /** Counts the resends described below. */
  onResend?: () => void;
  /**
   * false: never resend, as many HTTP clients (wrk, curl in a loop, most SDKs) do not: a reused
   * connection closed under the request is a failure (ECONNRESET). Default true, as a browser.
   */
  resend?: boolean;
  /** For an https: URL, the CA to trust (PEM) instead of the system's: a test's own CA. */
  ca?: string;
}

/**
 * One HTTP request, made the way a browser makes it. A server may close an idle keep-alive
 * connection at the moment the client reuses it (nginx's old workers do, after a reload): the
 * request then dies unanswered and unread by anyone. Browsers send it again on a new connection
 * (RFC 9112 §9.3.1; Chromium does so for any method when a reused socket fails before a byte of
 * the answer), and so does this, once, in exactly that case. Node documents the same pattern for
 * `request.reusedSocket`. Any other failure is a failure.
 */
export async function httpRequest(url: string, options: RequestOptions = {}): Promise<Response> {
  try {
    return await send(url, options);
  } catch (error) {
    if (!(error instanceof ReusedSocketClosed) || options.resend === false) throw error;
    options.onResend?.();
    return send(url, { ...options, agent: undefined });
  }
}

class ReusedSocketClosed extends Error {}

function send(url: string, { method = 'GET', headers = {}, body, agent, localAddress, ca }: RequestOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const options = { method, headers, agent: agent ?? false, localAddress, timeout: 15_000 };
    const req = (url.startsWith('https:') ? httpsRequest : request)(url, { ...options, ca }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 15 s`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      const closedUnanswered = req.reusedSocket && !answered && ['ECONNRESET', 'EPIPE'].includes(error.code ?? '');
      reject(closedUnanswered ? new ReusedSocketClosed(error.message) : error);
    });
    req.end(body);
  });
}

/** A urlencoded form body with its headers, as a browser posts the page's form. */
export function formPost(fields: Record<string, string>): Pick<RequestOptions, 'method' | 'headers' | 'body'> {
  const body = new URLSearchParams(fields).toString();
  return {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) },
  };
}

/** Writes `raw` bytes to host:port and returns whatever comes back until the server closes. */
export function rawExchange(port: number, raw: string | Buffer, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('no close from the server')));
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('end', () => resolve(received));
    socket.on('close', () => resolve(received));
    socket.on('error', (error: NodeJS.ErrnoException) => (received ? resolve(received) : reject(error)));
    socket.write(raw);
  });
}

/** The status code on the first line of a raw HTTP answer. */
export function statusOf(raw: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  if (match === null) throw new Error(`not an HTTP answer: ${JSON.stringify(raw.slice(0, 80))}`);
  return Number(match[1]);
}

export interface LoadResult {
  requests: number;
  /** Unexpected statuses and errors, with what was asked. */
  failures: string[];
  /** Requests sent again after a reused connection closed under them (see httpRequest). */
  resends: number;
}

/**
 * `concurrency` loops, each on its own keep-alive connection, calling `step` back to back until
 * `until` settles. `step` returns a failure description, or undefined when the answer was right.
 * `newAgent` makes each loop's agent: for https: URLs, an `https.Agent` (with the test's `ca`).
 */
export async function runLoad(
  concurrency: number,
  until: Promise<unknown>,
  step: (loop: number, iteration: number, agent: Agent, onResend: () => void) => Promise<string | undefined>,
  newAgent: () => Agent = () => new Agent({ keepAlive: true, maxSockets: 1 }),
): Promise<LoadResult> {
  const result: LoadResult = { requests: 0, failures: [], resends: 0 };
  let done = false;
  const outcome = until
    .then(
      () => undefined,
      (error: unknown) => ({ error }),
    )
    .finally(() => {
      done = true;
    });
  const onResend = () => result.resends++;
  const loops = Array.from({ length: concurrency }, async (_, loop) => {
    const agent = newAgent();
    try {
      for (let iteration = 0; !done; iteration++) {
        result.requests++;
        try {
          const failure = await step(loop, iteration, agent, onResend);
          if (failure !== undefined) result.failures.push(failure);
        } catch (error) {
          result.failures.push(`loop ${loop} #${iteration}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    } finally {
      agent.destroy();
    }
  });
  await Promise.all(loops);
  const failed = await outcome;
  if (failed) throw failed.error;
  return result;
}
