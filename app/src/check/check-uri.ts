import { pipeline } from 'node:stream';
import { TextDecoder } from 'node:util';
import { type BrotliDecompress, createBrotliDecompress, createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { ForbiddenAddressError, ipLiteral, isPublicAddress } from './address-policy.ts';
import { guardedConnector } from './guarded-connector.ts';
import { TitleFinder } from './page-title.ts';
import { isSelfLink } from './self-link.ts';
import { type CheckFailure, type CheckOptions, type CheckRejected, type CheckResult, REFUSING_STATUSES } from './types.ts';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Bodies we do not parse are read this far so the connection can be reused, then cut off. */
const DISCARD_LIMIT_BYTES = 16 * 1024;
/**
 * How far a compressed page may expand before it is judged a compression bomb. Real HTML
 * compresses 3–10× (a page of repeated markup 20× or so); a bomb is a long run of one byte,
 * which deflate packs about 1000× and brotli far more. 100× is beyond any page a person reads and
 * far below any bomb, so neither is mistaken for the other.
 */
const MAX_COMPRESSION_RATIO = 100;

type Body = Dispatcher.ResponseData['body'];

/**
 * Ends a body read as far as the check needed. A stream ended early without a reason makes its
 * own (an AbortError from the async iterator, a RequestAbortedError from undici), stack trace and
 * all, in every check whose page was not read to its last byte. One reason made once costs nothing
 * per check; its stack is never wanted.
 * Why and the figures: docs/decisions/0018-what-a-check-allocates.md
 */
const READ_ENOUGH = new Error('the check read as far as it needed');

/**
 * Fetches `uri` the way a browser following the link would, and says whether it leads somewhere
 * alive. Never rejects for anything the target does: every failure becomes a CheckRejected. It
 * rejects only when `signal` (the caller giving up) aborts, with the signal's reason.
 *
 * Runs on a worker thread (the pool) or the main thread (inline); it logs nothing and returns
 * plain data either way. The whole check, redirects and body included, ends by `timeoutMs`.
 */
export async function checkUri(uri: string, options: CheckOptions, signal?: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  // One controller and one timer, cleared as the check ends. AbortSignal.timeout's timer would
  // outlive a check that took milliseconds by its whole deadline, and under a burst of creations
  // thousands of them filled the check thread's old generation.
  // The figures: docs/decisions/0018-what-a-check-allocates.md
  const stop = new AbortController();
  let deadlinePassed = false;
  const deadline = setTimeout(() => {
    deadlinePassed = true;
    stop.abort(new DOMException(`the check took longer than ${options.timeoutMs} ms`, 'TimeoutError'));
  }, options.timeoutMs);
  const giveUp = (): void => stop.abort(signal?.reason);
  if (signal?.aborted) giveUp();
  else signal?.addEventListener('abort', giveUp, { once: true });
  let result: CheckResult;
  try {
    result = await follow(uri, options, stop.signal);
  } catch (error) {
    signal?.throwIfAborted();
    result = { ok: false, ...describeFailure(error, deadlinePassed, options), status: null, durationMs: 0 };
  } finally {
    clearTimeout(deadline);
    signal?.removeEventListener('abort', giveUp);
  }
  signal?.throwIfAborted();
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

/**
 * Redirects are followed here rather than by undici so that every hop is judged like the first:
 * http(s) only, Location resolved against the current URL, the address policy again, loops and
 * chains longer than `maxRedirects` refused.
 */
async function follow(uri: string, options: CheckOptions, signal: AbortSignal): Promise<CheckResult> {
  let url = URL.parse(uri);
  if (url === null || !isHttp(url)) return rejected('network', `'${uri}' is not an http or https URI`, null);
  const dispatcher = agentFor(options);
  const headers = {
    'user-agent': options.userAgent,
    accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
    // As browsers ask: a compressed page costs the target and us less, and its title is found all the same.
    'accept-encoding': 'gzip, deflate, br',
  };
  const visited = new Set<string>();

  for (let redirects = 0; ; redirects++) {
    const refusal = refusedTarget(url, options);
    if (refusal !== null) return rejected('forbidden_address', refusal, null);
    visited.add(withoutFragment(url));

    const target = viaSelf(url, options);
    const {
      statusCode: status,
      headers: responseHeaders,
      body,
    } = await request(target, {
      dispatcher,
      method: 'GET',
      // Fetched through SELF_URL, the service is still asked for its public host, as a person's
      // browser asks it: absolute redirects it builds from Host then name PUBLIC_URL, not the route.
      headers: target === url ? headers : { ...headers, host: url.host },
      signal,
    });

    if (REDIRECT_STATUSES.has(status)) {
      discard(body);
      const location = first(responseHeaders.location);
      if (location === undefined) return rejected('bad_redirect', `HTTP ${status} without a Location header`, status);
      const next = URL.parse(location, url.href);
      if (next === null) return rejected('bad_redirect', `redirect to an invalid URI '${location}'`, status);
      if (!isHttp(next)) return rejected('bad_redirect', `redirect to a ${next.protocol} URI`, status);
      if (visited.has(withoutFragment(next))) return rejected('too_many_redirects', 'redirect loop', status);
      if (redirects >= options.maxRedirects) {
        return rejected('too_many_redirects', `more than ${options.maxRedirects} redirects`, status);
      }
      url = next;
      continue;
    }

    const finalUri = url.href;
    if (status >= 200 && status < 300) {
      const contentType = first(responseHeaders['content-type']) ?? '';
      const encoding = first(responseHeaders['content-encoding']) ?? '';
      const page = isHtml(contentType)
        ? await readTitle(body, contentType, encoding, options.maxBodyBytes, signal)
        : { title: discard(body) };
      if ('timedOut' in page) return rejected('timeout', `timed out reading the page after ${options.timeoutMs} ms`, status);
      if ('ratio' in page) {
        const detail = `the page is a compression bomb (its ${encoding.trim().toLowerCase()} expands ${page.ratio}×, over ${MAX_COMPRESSION_RATIO}×)`;
        return rejected('compression_bomb', detail, status);
      }
      return { ok: true, status, finalUri, title: page.title, warning: null, redirects, durationMs: 0 };
    }
    discard(body);
    if (REFUSING_STATUSES.has(status)) {
      const warning = `HTTP ${status}: the server is up but refused the check`;
      return { ok: true, status, finalUri, title: null, warning, redirects, durationMs: 0 };
    }
    return rejected('http_status', `HTTP ${status}`, status);
  }
}

/**
 * A URI under the service's own origin, in any of its spellings (isSelfLink), is fetched where the
 * service reaches itself (selfVia). So the connector only ever opens the configured address: a
 * loopback alias is never dialled as itself (localhost may resolve to ::1, where another server
 * could listen on the same port).
 */
function viaSelf(url: URL, options: CheckOptions): URL {
  const via = new URL(options.selfVia);
  if (url.origin === via.origin || !isSelfLink(url, options.selfOrigin)) return url;
  return new URL(`${url.pathname}${url.search}`, via);
}

/**
 * The same rule the connector applies, judged before any socket is opened for an IP literal.
 * The self-link (PUBLIC_URL, and its loopback spellings when it is on loopback) passes here;
 * the connector lets through only the address viaSelf then fetches it at.
 * SELF_URL is a route, not a destination: the connector lets it through because the service's own
 * PUBLIC_URL is fetched there (viaSelf), but a bookmark to it (compose's http://nginx:8080/…)
 * leads people nowhere. Only PUBLIC_URL is the self-link; SELF_URL is a private address like any.
 */
function refusedTarget(url: URL, options: CheckOptions): string | null {
  if (options.allowPrivate || isSelfLink(url, options.selfOrigin)) return null;
  if (url.origin === new URL(options.selfVia).origin) {
    return `${url.host} is SELF_URL, the service's private route to itself, not a public address; bookmark ${options.selfOrigin} instead`;
  }
  const literal = ipLiteral(url.hostname);
  if (literal === null || isPublicAddress(literal)) return null;
  return new ForbiddenAddressError(literal, literal).message;
}

/** What reading a page found: its title (null: none), or why the page is refused. */
type PageRead = { title: string | null } | { timedOut: true } | { ratio: number };

/**
 * Reads at most `maxBytes` of an HTML body, decoded, and only until </title>: the rest is
 * cancelled when the loop exits, which is what bounds time and memory on a page that never ends.
 * The cap counts decoded bytes, so a gzip bomb (a small body that inflates to gigabytes) is
 * inflated no further than `maxBytes` plus the decompressor's buffered output: zlib streams stop
 * inflating while their output is not read.
 *
 * A page that fills the cap is then judged by how far it expanded: decoded bytes over the
 * compressed bytes the decompressor consumed for them (its bytesWritten; what it read ahead only
 * lowers the ratio). Beyond MAX_COMPRESSION_RATIO it is a bomb, refused. A page whose title, cap
 * or end is not reached by the deadline (`signal`) did not answer in time (a body dripped a
 * byte a second), refused as well. A body cut short otherwise (reset, corrupt compression) only
 * costs the title: the status has already shown the page is alive.
 */
async function readTitle(
  body: Body,
  contentType: string,
  contentEncoding: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<PageRead> {
  const decompressor = decompressorFor(contentEncoding);
  if (decompressor === undefined) {
    discard(body);
    return { title: null };
  }
  const finder = new TitleFinder();
  const decoder = decoderFor(contentType);
  let remaining = maxBytes;
  const decoded = decompressor === null ? body : pipeline(body, decompressor, () => {});
  try {
    for await (const chunk of decoded) {
      const bytes: Buffer = chunk;
      const part = bytes.length > remaining ? bytes.subarray(0, remaining) : bytes;
      remaining -= part.length;
      finder.write(decoder.decode(part, { stream: true }));
      if (finder.done || remaining === 0) {
        const ratio = finder.done || decompressor === null ? 1 : Math.floor(maxBytes / Math.max(1, decompressor.bytesWritten));
        // Destroyed before the loop is left: leaving it first would destroy `decoded` with an
        // error made for the occasion (see READ_ENOUGH).
        decoded.destroy(READ_ENOUGH);
        if (ratio > MAX_COMPRESSION_RATIO) return { ratio };
        break;
      }
    }
  } catch {
    if (signal.aborted) return { timedOut: true };
    // Keep whatever title was found before the body stopped.
  } finally {
    // The pipeline would pass `decoded`'s end on to the body a tick later; the connection is
    // released now. A no-op for a body already ended or destroyed.
    body.destroy(READ_ENOUGH);
  }
  return { title: finder.title };
}

/**
 * The decoder for a Content-Encoding (null: none needed; undefined: one we cannot decode, so the
 * body is not read for a title). We ask for gzip, deflate and br; a server may send them unasked.
 */
function decompressorFor(contentEncoding: string): Gunzip | Inflate | BrotliDecompress | null | undefined {
  switch (contentEncoding.trim().toLowerCase()) {
    case '':
    case 'identity':
      return null;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * Lets a short unread body drain so the keep-alive socket can be reused; a long one is cut off.
 * Not awaited: the verdict does not depend on it, and undici's bodyTimeout bounds it.
 */
function discard(body: Body): null {
  body.dump({ limit: DISCARD_LIMIT_BYTES }).catch(() => {});
  return null;
}

function decoderFor(contentType: string): TextDecoder {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8');
  } catch {
    return new TextDecoder('utf-8');
  }
}

function isHtml(contentType: string): boolean {
  const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase();
  return mediaType === 'text/html' || mediaType === 'application/xhtml+xml';
}

function isHttp(url: URL): boolean {
  return url.protocol === 'http:' || url.protocol === 'https:';
}

function withoutFragment(url: URL): string {
  return url.href.split('#', 1)[0] ?? url.href;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function rejected(reason: CheckFailure, detail: string, status: number | null): CheckRejected {
  return { ok: false, reason, detail, status, durationMs: 0 };
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NODATA', 'EAI_NONAME', 'EAI_FAIL']);
/** OpenSSL's verdicts on a site's certificate, as Node reports them. */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** Turns what undici, net or dns threw into a reason a person (and a metrics label) can use. */
export function describeFailure(
  error: unknown,
  deadlinePassed: boolean,
  options: Pick<CheckOptions, 'timeoutMs' | 'connectTimeoutMs'>,
): { reason: CheckFailure; detail: string } {
  const code = errorCode(error);
  if (code === 'ERR_FORBIDDEN_ADDRESS') return { reason: 'forbidden_address', detail: messageOf(error) };
  if (deadlinePassed) return { reason: 'timeout', detail: `timed out after ${options.timeoutMs} ms` };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { reason: 'timeout', detail: `connection timed out after ${options.connectTimeoutMs} ms` };
  }
  if (code !== undefined && CERTIFICATE_CODES.has(code)) return { reason: 'network', detail: `TLS certificate not trusted (${code})` };
  if (code !== undefined && TIMEOUT_CODES.has(code)) return { reason: 'timeout', detail: `timed out (${code})` };
  if (code !== undefined && DNS_CODES.has(code)) return { reason: 'dns', detail: `DNS lookup failed (${code})` };
  if (code === 'ECONNREFUSED') return { reason: 'refused', detail: 'connection refused' };
  if (code === 'UND_ERR_HEADERS_OVERFLOW') return { reason: 'network', detail: 'the response headers never ended (over 16 KiB)' };
  return { reason: 'network', detail: code === undefined ? messageOf(error) : `network error (${code})` };
}

/** net reports a failed connection to every address of a name as an AggregateError. */
function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  if ('code' in error && typeof error.code === 'string') return error.code;
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One keep-alive Agent per distinct set of options, per thread, made on first use: each check
 * passes its options (workers hold no config), and sockets to a host are reused across checks.
 * undici's 300 s header and body timeouts are far too long for a check; the deadline signal ends
 * the check itself, these bound bodies left draining after it.
 */
const agents = new Map<string, { agent: Agent; dispatcher: Dispatcher }>();

function agentKey(options: CheckOptions): string {
  return JSON.stringify([
    options.connectTimeoutMs,
    options.timeoutMs,
    options.allowPrivate,
    options.selfOrigin,
    options.selfVia,
    options.extraCa,
  ]);
}

function agentFor(options: CheckOptions): Dispatcher {
  const key = agentKey(options);
  let entry = agents.get(key);
  if (entry === undefined) {
    const agent = new Agent({
      connect: guardedConnector(options),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    // A kept-alive socket can be closed by the server just as it is reused (nginx closes idle
    // client connections on every reload): the GET never reached anyone, so send it once more
    // on a fresh socket, as browsers do. Statuses are never retried: they are the verdict.
    const dispatcher = agent.compose(
      interceptors.retry({ maxRetries: 1, minTimeout: 0, statusCodes: [], errorCodes: ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'] }),
    );
    entry = { agent, dispatcher };
    agents.set(key, entry);
  }
  return entry.dispatcher;
}

/** Closes the sockets kept for `options` (the inline checker's close; a worker's die with it). */
export async function closeAgent(options: CheckOptions): Promise<void> {
  const key = agentKey(options);
  const entry = agents.get(key);
  agents.delete(key);
  await entry?.agent.destroy();
}
