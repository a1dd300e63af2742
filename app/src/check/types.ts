/**
 * What a URI check found. Workers return these as plain data (structured clone); the main
 * thread decides the HTTP answer and does the logging.
 */
export type CheckResult = CheckAccepted | CheckRejected;

/**
 * Statuses from a live server that turns robots away: the link works for people, so the check
 * accepts it with a warning, and the page shows the warning. Here, with no imports, so the check
 * thread and the request thread read the one list without loading each other's modules.
 */
export const REFUSING_STATUSES: ReadonlySet<number> = new Set([401, 403, 405, 429]);

export interface CheckAccepted {
  ok: true;
  /** Final status: 2xx, or one of REFUSING_STATUSES. */
  status: number;
  /** URI after redirects. */
  finalUri: string;
  title: string | null;
  /** Set when the status is one of REFUSING_STATUSES, accepted with reservations. */
  warning: string | null;
  redirects: number;
  durationMs: number;
}

export interface CheckRejected {
  ok: false;
  /** Short machine-readable reason, also the metrics label. */
  reason: CheckFailure;
  /** A sentence for people: "connection refused", "timed out after 5000 ms", "HTTP 500". */
  detail: string;
  status: number | null;
  durationMs: number;
}

export type CheckFailure =
  | 'dns'
  | 'refused'
  | 'timeout'
  | 'http_status'
  | 'too_many_redirects'
  | 'forbidden_address'
  | 'bad_redirect'
  /** A compressed page expanding far beyond any real page's ratio (a gzip bomb). */
  | 'compression_bomb'
  | 'network';

/** What a check needs to know besides the URI; passed to every task so workers hold no config. */
export interface CheckOptions {
  timeoutMs: number;
  connectTimeoutMs: number;
  maxRedirects: number;
  maxBodyBytes: number;
  allowPrivate: boolean;
  /** The service's own origin: always allowed, so a bookmark to the service itself works (isSelfLink). */
  selfOrigin: string;
  /**
   * Where the check reaches that origin from inside (usually selfOrigin itself). In compose,
   * PUBLIC_URL's localhost:8080 is the app's own container; the service is at http://nginx:8080.
   */
  selfVia: string;
  userAgent: string;
  /** PEM certificates checks trust besides Node's defaults (CHECK_EXTRA_CA_FILE): an internal CA. */
  extraCa?: string | undefined;
}

export interface UriChecker {
  /**
   * Checks one URI. Rejects with DomainError('CHECK_QUEUE_FULL') when the queue is full, with
   * DomainError('CHECKS_UNAVAILABLE') when no check thread can start; an
   * aborted `signal` cancels the check (it then rejects with the signal's reason).
   */
  check(uri: string, signal?: AbortSignal): Promise<CheckResult>;
  /** Checks waiting for a worker. */
  readonly queueDepth: number;
  /** Checks running now. */
  readonly running: number;
  /** False once a worker pool has failed or is closing; an idle pool with no thread is healthy. */
  readonly healthy: boolean;
  /** Check worker threads alive now (0 inline, and while an idle pool has retired its thread). */
  readonly threads: number;
  close(): Promise<void>;
}
