/**
 * The target with the request's query string appended after its own. A parameter the target
 * already has is not taken from the request: the link's owner set it (a campaign tag, a
 * `redirect_uri`), and a visitor must not be able to override it. The target's own query is kept
 * byte for byte; the request's is re-encoded (which also keeps a `#` in it from reaching the
 * fragment). Called only for a request that has a query: the common redirect parses nothing.
 */
export function withForwardedQuery(uri: string, requestQuery: string): string {
  const hashAt = uri.indexOf('#');
  const base = hashAt === -1 ? uri : uri.slice(0, hashAt);
  const fragment = hashAt === -1 ? '' : uri.slice(hashAt);
  const queryAt = base.indexOf('?');
  const own = new URLSearchParams(queryAt === -1 ? '' : base.slice(queryAt + 1));
  const added = new URLSearchParams();
  for (const [key, value] of new URLSearchParams(requestQuery)) if (!own.has(key)) added.append(key, value);
  const extra = added.toString();
  if (extra === '') return uri;
  const separator = queryAt === -1 ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${extra}${fragment}`;
}
