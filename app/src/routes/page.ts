import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { refuseCrossSite } from '../auth/same-origin.ts';
import type { AppContext } from '../context.ts';
import { answerError } from '../error-answer.ts';
import { DomainError } from '../errors.ts';
import { couldNotFetch } from '../services/bookmarks.ts';
import type { LinkOptionsInput } from '../services/link-options.ts';
import { InvalidUriError } from '../services/validation.ts';
import { assetUrl } from '../static-assets.ts';
import { sparks } from '../stats/sparks.ts';
import type { Bookmark } from '../store/types.ts';
import { StoreUnavailableError } from '../store/unavailable.ts';
import { type PageModel, renderPage } from '../views/page.ts';
import { renderSignIn } from '../views/sign-in.ts';
import { clientAbortSignal } from './abort-signal.ts';
import { answerOtherMethods } from './allow-methods.ts';

type FormBody = Record<string, string | string[] | undefined>;

function field(body: FormBody, name: string): string | undefined {
  const value = body[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The expiry fields of the create form (no `current`: empty is no limit) and of the edit form, as
 * changes: a field sent back as shown is none (so an expired date shown again is not refused as
 * past); empty removes the limit. The date is read as UTC.
 */
function expiryFromForm(body: FormBody, current?: Bookmark): LinkOptionsInput {
  const expiresAt = field(body, 'expiresat')?.trim();
  const maxVisits = field(body, 'maxvisits')?.trim();
  const shownDate = current?.expiresAt?.toISOString().slice(0, 16) ?? '';
  const options: LinkOptionsInput = {};
  if (expiresAt !== undefined && expiresAt !== shownDate) options.expiresAt = expiresAt === '' ? null : `${expiresAt}Z`;
  if (maxVisits !== undefined && maxVisits !== String(current?.maxVisits ?? '')) {
    options.maxVisits = maxVisits === '' ? null : Number(maxVisits);
  }
  return options;
}

/** The seed's form: GET / shows it with the bookmarks, POST / saves one and answers 303 to /. */
export function registerPageRoutes(app: FastifyInstance, context: AppContext): void {
  const { service, config, assets, auth } = context;
  const chrome = {
    publicUrl: config.publicUrl,
    stylesheetUrl: assetUrl(assets, 'style.css'),
    scriptUrl: assetUrl(assets, 'copy.js'),
    logoUrl: assetUrl(assets, 'logo.svg'),
  };

  async function sendPage(reply: FastifyReply, status: number, model: Omit<PageModel, 'page' | 'sparks' | keyof typeof chrome>) {
    // An answer that reports an error still shows the form and what was typed when the list
    // cannot be read; a page that would be a 200 becomes that error instead (GET / below). When
    // the error is the store being away, it is not asked again: that would double the wait.
    let page: PageModel['page'];
    if (model.message?.code !== 'STORE_UNAVAILABLE') {
      try {
        page =
          model.query === undefined
            ? await service.list(config.pageSize, model.cursor)
            : await service.search(model.query, config.pageSize, model.cursor);
      } catch (error) {
        if (status < 400 || !(error instanceof StoreUnavailableError)) throw error;
      }
    }
    // no-cache: the page links hashed assets, so a new deploy must be seen at once.
    return reply
      .code(status)
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(
        renderPage({ ...chrome, ...model, page, sparks: config.stats.enabled ? await sparks(context.store, page, reply.log) : undefined }),
      );
  }

  /** The form again, with the error: its status, headers and log line as the JSON API's (answerError). */
  function sendErrorPage(error: DomainError, request: FastifyRequest, reply: FastifyReply, model: Pick<PageModel, 'values' | 'viewer'>) {
    const { status } = answerError(error, request, reply);
    return sendPage(reply, status, { ...model, message: { kind: 'error', text: error.message, code: error.code } });
  }

  const PRIVATE_NOTICE = 'This bookmark server is private: sign in with your key to see and add links.';

  /** Private mode, signed out: the sign-in form instead of the list (redirects stay public). */
  function sendSignIn(reply: FastifyReply, status: number) {
    return reply
      .code(status)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(renderSignIn({ stylesheetUrl: chrome.stylesheetUrl, logoUrl: chrome.logoUrl, notice: PRIVATE_NOTICE }));
  }

  app.get<{ Querystring: { cursor?: string; q?: string } }>('/', async (request, reply) => {
    const cursor = request.query.cursor || undefined;
    const query = request.query.q?.trim() || undefined;
    try {
      const viewer = await auth.fromCookie(request.headers.cookie);
      if (config.private && viewer === undefined) return sendSignIn(reply, 200);
      return await sendPage(reply, 200, { cursor, viewer, query });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      // The whole list with the message: the search that failed would fail again.
      return sendErrorPage(error, request, reply, {});
    }
  });

  app.post<{ Body: FormBody }>('/', async (request, reply) => {
    const body: FormBody = request.body ?? {};
    const longuri = field(body, 'longuri');
    const shortname = field(body, 'shortname');
    const values = {
      longuri: longuri ?? '',
      shortname: shortname ?? '',
      expiresat: field(body, 'expiresat') ?? '',
      maxvisits: field(body, 'maxvisits') ?? '',
    };
    let viewer: Principal | undefined;
    try {
      refuseCrossSite(request, config.publicUrl);
      viewer = await auth.fromCookie(request.headers.cookie);
      if (config.private && viewer === undefined) return sendSignIn(reply, 401);
      if (longuri === undefined || longuri.trim() === '') {
        throw new DomainError('MISSING_FIELD', 'Please fill out the Long URI field.');
      }
      // The form always sends shortname (empty means "generate one"); only a client that leaves
      // the field out altogether is told, as the seed did.
      if (shortname === undefined) {
        throw new DomainError('MISSING_FIELD', 'Please fill out the Short name field (send it empty for a generated name).');
      }
      await service.create(
        { uri: longuri, name: shortname.trim(), createdBy: viewer?.name ?? 'form', ...expiryFromForm(body) },
        clientAbortSignal(reply),
      );
      return reply.code(303).header('location', '/').send();
    } catch (caught) {
      // The seed's form answered text it could not fetch, URI or not, with its 404; so does ours.
      const error = caught instanceof InvalidUriError ? couldNotFetch(longuri?.trim() ?? '', caught.reason) : caught;
      if (!(error instanceof DomainError)) throw error;
      return sendErrorPage(error, request, reply, { values, viewer });
    }
  });

  // Delete from the page: the signed-in person's session decides, as a key does in the API.
  app.post<{ Body: FormBody }>('/delete', async (request, reply) => {
    const name = field(request.body ?? {}, 'name') ?? '';
    let viewer: Principal | undefined;
    try {
      refuseCrossSite(request, config.publicUrl);
      viewer = await auth.fromCookie(request.headers.cookie);
      if (viewer === undefined) throw new DomainError('UNAUTHORIZED', 'Please sign in to delete a link.');
      await service.delete(name, viewer);
      return reply.code(303).header('location', '/').send();
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      return sendErrorPage(error, request, reply, { viewer });
    }
  });

  // Edit from the page: as PATCH with the session's person. A title sent back as it was shown is
  // no change, so a new target still takes the title its check finds.
  app.post<{ Body: FormBody }>('/edit', async (request, reply) => {
    const body: FormBody = request.body ?? {};
    const name = field(body, 'name') ?? '';
    const longuri = field(body, 'longuri');
    const title = field(body, 'title');
    let viewer: Principal | undefined;
    try {
      refuseCrossSite(request, config.publicUrl);
      viewer = await auth.fromCookie(request.headers.cookie);
      if (viewer === undefined) throw new DomainError('UNAUTHORIZED', 'Please sign in to edit a link.');
      const current = await service.get(name);
      if (current === undefined) throw new DomainError('NOT_FOUND', `I don't know '${name}'.`);
      const titleChanged = title !== undefined && title.trim() !== (current.title ?? '');
      await service.edit(
        name,
        {
          uri: longuri === undefined || longuri.trim() === '' ? undefined : longuri,
          title: titleChanged ? title : undefined,
          ...expiryFromForm(body, current),
        },
        viewer,
        clientAbortSignal(reply),
      );
      return reply.code(303).header('location', '/').send();
    } catch (caught) {
      const error = caught instanceof InvalidUriError ? couldNotFetch(longuri?.trim() ?? '', caught.reason) : caught;
      if (!(error instanceof DomainError)) throw error;
      return sendErrorPage(error, request, reply, { viewer });
    }
  });

  answerOtherMethods(app, '/', ['GET', 'POST']);
  answerOtherMethods(app, '/delete', ['POST']);
  answerOtherMethods(app, '/edit', ['POST']);
}
