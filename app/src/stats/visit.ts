import type { FastifyRequest } from 'fastify';
import { classifyAgent, isPrefetch, referrerHost } from './classify.ts';
import type { CountryLookup } from './geoip.ts';
import type { Visit } from './rollups.ts';

/**
 * What a redirect counts: `null` for a request that is no visit (HEAD, a prefetch), `undefined`
 * for a visit when stats are off (only the total is counted), else who it was.
 */
export type VisitOf = (request: FastifyRequest) => Visit | null | undefined;

export function visitDescriber(options: { stats: boolean; countryOf?: CountryLookup | undefined }): VisitOf {
  const { countryOf } = options;
  if (!options.stats) return (request) => (request.method === 'HEAD' || isPrefetch(request.headers) ? null : undefined);
  return (request) => {
    const { headers } = request;
    if (request.method === 'HEAD' || isPrefetch(headers)) return null;
    const visit: Visit = { agent: classifyAgent(headers['user-agent']), referrer: referrerHost(headers.referer) };
    // request.ip is the address TRUSTED_PROXIES lets through; only its country is kept.
    if (countryOf !== undefined && !visit.agent.bot) visit.country = countryOf(request.ip);
    return visit;
  };
}
