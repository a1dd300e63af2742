import type { Principal } from '../auth/principal.ts';
import type { ErrorCode } from '../errors.ts';
import { isExpired } from '../services/bookmarks.ts';
import type { Bookmark, BookmarkPage, SearchPage } from '../store/types.ts';
import { checkBadge } from './check-badge.ts';
import { escapeHtml as e, htmlDocument } from './html.ts';
import { sparkSvg } from './stats.ts';

// The page is served with a strict CSP (no inline script or style): everything here is markup
// and classes; the look is in static/style.css and the one behaviour in static/copy.js.

type FieldName = 'longuri' | 'shortname' | 'expiresat' | 'maxvisits';

/** What the person typed into the create form, kept when it comes back with an error. */
export type FormValues = Record<FieldName, string>;

export interface PageModel {
  /** Undefined when the store cannot be read: the form still comes back, with what was typed. */
  page: BookmarkPage | SearchPage | undefined;
  /** Where this page of the list starts (absent: the newest). */
  cursor?: string | undefined;
  publicUrl: URL;
  stylesheetUrl: string;
  scriptUrl: string;
  logoUrl: string;
  /** `code`, when given, ties an error to the field it is about (aria-invalid, focus). */
  message?: { kind: 'error' | 'ok'; text: string; code?: ErrorCode | undefined } | undefined;
  /** People per day over the last 7 days, oldest first, by name (absent: no sparks). */
  sparks?: ReadonlyMap<string, readonly number[]> | undefined;
  /** What the person typed, kept when the form comes back with an error. */
  values?: Partial<FormValues> | undefined;
  /** What the list is filtered by (the search box), if anything. */
  query?: string | undefined;
  /** The signed-in person: delete shows on the links they may change. */
  viewer?: Principal | undefined;
}

/** The field a person has to change to get past an error; undefined when no field is at fault. */
function fieldAtFault(code: ErrorCode | undefined, values: FormValues): FieldName | undefined {
  switch (code) {
    case 'MISSING_FIELD':
      // The form always sends both fields, so an empty Long URI is the one a person can miss.
      return values.longuri.trim() === '' ? 'longuri' : 'shortname';
    case 'INVALID_URI':
    case 'URI_UNREACHABLE':
    case 'HOST_BLOCKED':
      return 'longuri';
    case 'INVALID_NAME':
    case 'RESERVED_NAME':
    case 'NAME_TAKEN':
      return 'shortname';
    case 'INVALID_EXPIRY':
      return 'expiresat';
    case 'INVALID_MAX_VISITS':
      return 'maxvisits';
    default:
      return undefined;
  }
}

/** The value of a datetime-local field for `date`, in UTC (the form says so): minutes, no zone. */
function utcLocalValue(date: Date | null): string {
  return date === null ? '' : date.toISOString().slice(0, 16);
}

/** Expiry, spelled out: whether the link still redirects, and until when. */
function expiryNote(bookmark: Bookmark, now: number): string {
  const target = { ...bookmark, expiresAt: bookmark.expiresAt?.getTime() ?? null };
  if (isExpired(target, 0, now)) return '<span class="badge expired">Expired</span>';
  const limits = [
    bookmark.expiresAt === null ? undefined : `until ${utcLocalValue(bookmark.expiresAt).replace('T', ' ')} UTC`,
    bookmark.maxVisits === null ? undefined : `${bookmark.maxVisits} visits at most`,
  ].filter((part) => part !== undefined);
  return limits.length === 0 ? '' : `<span class="note">${e(limits.join(', '))}</span>`;
}

/** An admin may change every link, an author those it created (BookmarkService.mayChange). */
function deleteForm(bookmark: Bookmark, viewer: Principal | undefined): string {
  if (viewer === undefined || (viewer.role !== 'admin' && bookmark.createdBy !== viewer.name)) return '';
  return `<form class="delete" method="POST" action="/delete"><input type="hidden" name="name" value="${e(bookmark.name)}"><button type="submit" class="delete" aria-label="Delete ${e(bookmark.name)}">Delete</button></form>`;
}

/**
 * The edit form, folded in a <details> so the list stays one line a link (no script needed). The
 * title field starts as the link's own; left as it was, a new target takes the title its check finds.
 */
function editForm(bookmark: Bookmark, viewer: Principal | undefined): string {
  if (viewer === undefined || (viewer.role !== 'admin' && bookmark.createdBy !== viewer.name)) return '';
  const id = `edit-${e(bookmark.name)}`;
  return `<details class="edit"><summary aria-label="Edit ${e(bookmark.name)}">Edit</summary><form class="edit" method="POST" action="/edit">
<input type="hidden" name="name" value="${e(bookmark.name)}">
<label for="${id}-uri">Long URI</label><input id="${id}-uri" name="longuri" type="text" inputmode="url" autocapitalize="none" spellcheck="false" value="${e(bookmark.uri)}">
<label for="${id}-title">Title</label><input id="${id}-title" name="title" type="text" value="${e(bookmark.title ?? '')}">
<label for="${id}-expires">Expires (UTC, empty: never)</label><input id="${id}-expires" name="expiresat" type="datetime-local" value="${utcLocalValue(bookmark.expiresAt)}">
<label for="${id}-max">Max visits (empty: no limit)</label><input id="${id}-max" name="maxvisits" type="number" min="1" step="1" value="${bookmark.maxVisits ?? ''}">
<button type="submit">Save changes</button>
</form></details>`;
}

/**
 * Who is signed in, with sign-out; or the way to sign in. Below the list, not in the header: the
 * keyboard reaches the form first.
 */
function accountFooter(viewer: Principal | undefined): string {
  if (viewer === undefined) return '<footer class="account"><a href="/sign-in">Sign in</a> to edit or delete the links you made.</footer>';
  return `<footer class="account"><span>Signed in as <strong>${e(viewer.name)}</strong></span><form method="POST" action="/sign-out"><button type="submit" class="link">Sign out</button></form></footer>`;
}

function row(bookmark: Bookmark, publicUrl: URL, viewer: Principal | undefined, spark: readonly number[] | undefined): string {
  const shortUrl = new URL(bookmark.name, publicUrl).href;
  const title = bookmark.title === null || bookmark.title.trim() === '' ? '' : `<span class="title">${e(bookmark.title)}</span>`;
  return `<tr>
<td class="name"><a href="/${e(bookmark.name)}">${e(bookmark.name)}</a> <button type="button" class="copy" data-copy="${e(shortUrl)}" aria-label="Copy the short link ${e(shortUrl)}" hidden>Copy</button></td>
<td class="target">${title}<a class="uri" href="${e(bookmark.uri)}" rel="noopener noreferrer nofollow">${e(bookmark.uri)}</a></td>
<td class="visits">${spark === undefined ? '' : sparkSvg(spark)}<a href="/${e(bookmark.name)}+" aria-label="Stats of ${e(bookmark.name)}: ${bookmark.visits} visits">${bookmark.visits}</a></td>
<td class="status">${checkBadge(bookmark)}${expiryNote(bookmark, Date.now())}${deleteForm(bookmark, viewer)}${editForm(bookmark, viewer)}</td>
</tr>`;
}

interface FieldSpec {
  name: FieldName;
  label: string;
  hint: string;
  attributes: string;
  /** Default text. */
  type?: 'text' | 'datetime-local' | 'number';
}

function field(spec: FieldSpec, value: string, invalid: boolean): string {
  const hintId = `${spec.name}-hint`;
  // The error message comes first in the description: it is what the person needs to hear.
  const describedBy = invalid ? `form-message ${hintId}` : hintId;
  const state = invalid ? ' aria-invalid="true" autofocus' : '';
  return `<div class="field">
<label for="${spec.name}">${spec.label}</label>
<input id="${spec.name}" name="${spec.name}" type="${spec.type ?? 'text'}" ${spec.attributes} value="${e(value)}" aria-describedby="${describedBy}"${state}>
<p class="hint" id="${hintId}">${spec.hint}</p>
</div>`;
}

const LONG_URI: FieldSpec = {
  name: 'longuri',
  label: 'Long URI',
  hint: 'An http or https address. It is fetched once, to check that it works.',
  attributes:
    'inputmode="url" autocomplete="url" autocapitalize="none" spellcheck="false" aria-required="true" placeholder="https://example.com/a/long/path"',
};

// No autocomplete="off" here: it also stops the browser from restoring what was typed when the
// person comes back to the form with the Back button (after nginx's "too many requests" page).
const SHORT_NAME: FieldSpec = {
  name: 'shortname',
  label: 'Short name <span class="optional">(optional)</span>',
  hint: 'Letters, digits, - or _. Leave it empty for a generated one.',
  attributes: 'autocapitalize="none" spellcheck="false"',
};

// The same fields and rules as the edit form's and the API's (parseLinkOptions): a date read as
// UTC, in the future; a whole number of visits from 1. Empty: no limit.
const EXPIRES_AT: FieldSpec = {
  name: 'expiresat',
  label: 'Expires <span class="optional">(UTC)</span>',
  hint: 'From then on the link answers “gone”. Empty: never.',
  attributes: '',
  type: 'datetime-local',
};

const MAX_VISITS: FieldSpec = {
  name: 'maxvisits',
  label: 'Max visits',
  hint: 'Once visited this often the link answers “gone”. Empty: no limit.',
  attributes: 'min="1" step="1" inputmode="numeric"',
  type: 'number',
};

/** Folded, so the form stays two fields for most links; open when it holds something or an error. */
function limitFields(values: FormValues, invalid: FieldName | undefined): string {
  const open = values.expiresat !== '' || values.maxvisits !== '' || invalid === 'expiresat' || invalid === 'maxvisits';
  return `<details class="limits"${open ? ' open' : ''}><summary>Expiry <span class="optional">(optional)</span></summary><div class="limit-fields">
${field(EXPIRES_AT, values.expiresat, invalid === 'expiresat')}
${field(MAX_VISITS, values.maxvisits, invalid === 'maxvisits')}
</div></details>`;
}

function bookmarkTable(page: BookmarkPage | undefined, publicUrl: URL, viewer: Principal | undefined, sparks: PageModel['sparks']): string {
  if (page === undefined) return '<p class="empty">The bookmarks cannot be shown right now; they are safe, and will be back shortly.</p>';
  if (page.items.length === 0) return '<p class="empty">No bookmarks yet: add the first one above.</p>';
  const rows = page.items.map((bookmark) => row(bookmark, publicUrl, viewer, sparks?.get(bookmark.name))).join('\n');
  return `<table class="bookmarks">
<colgroup><col class="name"><col class="target"><col class="visits"><col class="status"></colgroup>
<thead><tr><th scope="col">Short name</th><th scope="col">Target</th><th scope="col" class="visits">Visits</th><th scope="col">Check</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
}

/** A GET form: the results are a page with an address, so Back and a shared link work. */
function searchForm(query: string | undefined): string {
  return `<form class="search" method="GET" action="/" role="search"><label for="q">Search</label><input id="q" name="q" type="search" minlength="3" maxlength="200" value="${e(query ?? '')}" placeholder="name, target or title"><button type="submit">Search</button>${query === undefined ? '' : ' <a href="/">Show all</a>'}</form>`;
}

function isPartial(page: BookmarkPage | SearchPage): boolean {
  return 'partial' in page && page.partial;
}

/** The list, or what a search found; a search cut short by its budget says so (docs/decisions/0029-search-within-a-budget.md). */
function searchResults(model: PageModel): string {
  const { page, query } = model;
  const table = bookmarkTable(page, model.publicUrl, model.viewer, model.sparks);
  if (query === undefined || page === undefined) return table;
  if (!isPartial(page)) return page.items.length === 0 ? `<p class="empty">Nothing matches '${e(query)}'.</p>` : table;
  const note = `<p class="partial" role="status">The search stopped here to stay quick: older links may match '${e(query)}' too.</p>`;
  return page.items.length === 0 ? note : `${table}\n${note}`;
}

function pagination(model: PageModel): string {
  const search = model.query === undefined ? '' : `q=${encodeURIComponent(model.query)}`;
  const newest = model.cursor === undefined ? '' : `<a href="/${search === '' ? '' : `?${search}`}">← Newest</a>`;
  const older =
    model.page === undefined || model.page.nextCursor === null
      ? ''
      : `<a class="older" href="/?${search === '' ? '' : `${search}&amp;`}cursor=${encodeURIComponent(model.page.nextCursor)}" rel="next">${isPartial(model.page) ? 'Search older links' : 'Older bookmarks'} →</a>`;
  return newest === '' && older === '' ? '' : `\n<nav class="pages" aria-label="More bookmarks">${newest}${older}</nav>`;
}

export function renderPage(model: PageModel): string {
  const values: FormValues = { longuri: '', shortname: '', expiresat: '', maxvisits: '', ...model.values };
  const { message } = model;
  const isError = message?.kind === 'error';
  const invalid = isError ? fieldAtFault(message.code, values) : undefined;
  const messageHtml =
    message === undefined
      ? ''
      : `<p class="message ${message.kind}" id="form-message" role="${isError ? 'alert' : 'status'}">${e(message.text)}</p>\n`;
  // A screen reader reads the title first: it should already say that something went wrong.
  const title = isError ? 'Error: Bookmark Server' : 'Bookmark Server';

  return htmlDocument({
    title,
    stylesheetUrls: [model.stylesheetUrl],
    logoUrl: model.logoUrl,
    scriptUrl: model.scriptUrl,
    body: `<main>
<section class="card" aria-labelledby="add-heading">
<h2 id="add-heading">Add a bookmark</h2>
${messageHtml}<form class="create" method="POST" action="/">
${field(LONG_URI, values.longuri, invalid === 'longuri')}
${field(SHORT_NAME, values.shortname, invalid === 'shortname')}
<button type="submit">Save it!</button>
${limitFields(values, invalid)}
</form>
</section>
<section class="card" aria-labelledby="list-heading">
<h2 id="list-heading">URIs I know about</h2>
${searchForm(model.query)}
${searchResults(model)}${pagination(model)}
</section>
</main>
${accountFooter(model.viewer)}
`,
  });
}
