import type { Authenticator } from './auth/principal.ts';
import type { UriChecker } from './check/types.ts';
import type { Config } from './config.ts';
import type { Metrics } from './metrics.ts';
import type { BookmarkService } from './services/bookmarks.ts';
import type { StaticAsset } from './static-assets.ts';
import type { VisitOf } from './stats/visit.ts';
import type { BookmarkStore } from './store/types.ts';

/** What the routes are given: built once by buildApp, shared by every request. */
export interface AppContext {
  config: Config;
  service: BookmarkService;
  store: BookmarkStore;
  checker: UriChecker;
  metrics: Metrics;
  assets: ReadonlyMap<string, StaticAsset>;
  lifecycle: Lifecycle;
  /** Who a request acts as: bearer keys for the API, the session cookie for the page. */
  auth: Authenticator;
  /** What a redirect counts (stats/visit.ts). */
  visitOf: VisitOf;
}

export interface Lifecycle {
  /** Set on SIGTERM: /readyz answers 503 so nothing new is routed here while requests finish. */
  draining: boolean;
}
