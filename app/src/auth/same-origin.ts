import type { FastifyRequest } from 'fastify';
import { DomainError } from '../errors.ts';

function originOf(value: string): string | undefined {
  try {
    return new URL(value).origin;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a state-changing form POST that another site made a browser send (decision 0020):
 * `Sec-Fetch-Site: cross-site`; an `Origin` (or, without one, a `Referer`) that is neither the
 * public URL's origin nor the request's own; or neither header from a browser (one that sends
 * `Sec-Fetch-Site`, which only browsers set; Node's fetch sends `Sec-Fetch-Mode` alone). A
 * program that sends none of them carries nobody's cookie and passes.
 */
export function refuseCrossSite(request: FastifyRequest, publicUrl: URL): void {
  const headers = request.headers;
  if (headers['sec-fetch-site'] === 'cross-site') throw crossSite();
  const claimed = headers.origin ?? (typeof headers.referer === 'string' ? originOf(headers.referer) : undefined);
  if (claimed === undefined) {
    if (headers['sec-fetch-site'] !== undefined && headers['sec-fetch-site'] !== 'same-origin') throw crossSite();
    return;
  }
  if (claimed === publicUrl.origin || claimed === `${request.protocol}://${request.host}`) return;
  throw crossSite();
}

function crossSite(): DomainError {
  return new DomainError('CROSS_SITE', 'This form was sent from another site, so it was refused. Please use the form on this page.');
}
