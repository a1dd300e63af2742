import type { FastifyInstance, FastifyReply } from 'fastify';
import { hashSecret, KEY_PATTERN } from '../auth/keys.ts';
import { refuseCrossSite } from '../auth/same-origin.ts';
import { clearedSessionCookie, newSessionId, readSessionCookie, sessionCookie } from '../auth/session-cookie.ts';
import type { AppContext } from '../context.ts';
import { answerError } from '../error-answer.ts';
import { DomainError } from '../errors.ts';
import { assetUrl } from '../static-assets.ts';
import { renderSignIn } from '../views/sign-in.ts';
import { answerOtherMethods } from './allow-methods.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * GET /sign-in shows a key field; POST /sign-in trades a key for a session cookie; POST /sign-out
 * ends the session in the store, so on every process (decision 0020).
 */
export function registerSignInRoutes(app: FastifyInstance, { config, assets, auth, store }: AppContext): void {
  const chrome = { stylesheetUrl: assetUrl(assets, 'style.css'), logoUrl: assetUrl(assets, 'logo.svg') };
  const secure = config.publicUrl.protocol === 'https:';

  const sendForm = (reply: FastifyReply, status: number, error?: string) =>
    reply
      .code(status)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(renderSignIn({ ...chrome, error }));

  app.get('/sign-in', async (_request, reply) => sendForm(reply, 200));

  app.post<{ Body: Record<string, string | string[] | undefined> }>('/sign-in', async (request, reply) => {
    try {
      refuseCrossSite(request, config.publicUrl);
      const raw = request.body?.key;
      const key = (Array.isArray(raw) ? raw[0] : raw)?.trim() ?? '';
      if (!KEY_PATTERN.test(key))
        throw new DomainError('UNAUTHORIZED', 'That is not a key: a key starts with lyk_ and is 47 characters long.');
      const principal = await auth.keyPrincipal(hashSecret(key));
      if (principal === undefined) throw new DomainError('UNAUTHORIZED', 'That key is not valid: it is unknown or has been revoked.');
      const sessionId = newSessionId();
      const ttlMs = config.sessionTtlDays * DAY_MS;
      await store.access.createSession({ hash: hashSecret(sessionId), keyName: principal.name, expiresAt: new Date(Date.now() + ttlMs) });
      return reply
        .code(303)
        .header('set-cookie', sessionCookie(sessionId, ttlMs / 1000, secure))
        .header('location', '/')
        .send();
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const { status, message } = answerError(error, request, reply);
      return sendForm(reply, status, message);
    }
  });

  app.post('/sign-out', async (request, reply) => {
    refuseCrossSite(request, config.publicUrl);
    const sessionId = readSessionCookie(request.headers.cookie);
    if (sessionId !== undefined) {
      await store.access.deleteSession(hashSecret(sessionId));
      auth.forgetSession(sessionId);
    }
    return reply.code(303).header('set-cookie', clearedSessionCookie(secure)).header('location', '/').send();
  });

  answerOtherMethods(app, '/sign-in', ['GET', 'POST']);
  answerOtherMethods(app, '/sign-out', ['POST']);
}
