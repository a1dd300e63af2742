import { WARNING_STATUSES } from '../services/bookmarks.ts';
import type { Bookmark, BookmarkPage } from '../store/types.ts';
import { escapeHtml as e } from './html.ts';

export interface PageModel {
  page: BookmarkPage;
  /** Where this page of the list starts (absent: the newest). */
  cursor?: string | undefined;
  publicUrl: URL;
  stylesheetUrl: string;
  scriptUrl: string;
  logoUrl: string;
  message?: { kind: 'error' | 'ok'; text: string } | undefined;
  /** What the person typed, kept when the form comes back with an error. */
  values?: { longuri: string; shortname: string } | undefined;
}

function statusBadge(bookmark: Bookmark): string {
  if (WARNING_STATUSES.has(bookmark.checkStatus)) {
    return `<span class="badge warn" title="The site answered HTTP ${bookmark.checkStatus}: it is up but refuses robots">⚠ HTTP ${bookmark.checkStatus}</span>`;
  }
  return `<span class="badge ok">✓ HTTP ${bookmark.checkStatus}</span>`;
}

function row(bookmark: Bookmark, publicUrl: URL): string {
  const shortUrl = new URL(bookmark.name, publicUrl).href;
  const title = bookmark.title === null ? '' : `<span class="title">${e(bookmark.title)}</span>`;
  return `<tr>
<td class="name"><a href="/${e(bookmark.name)}">${e(bookmark.name)}</a><button type="button" class="copy" data-copy="${e(shortUrl)}" hidden>Copy</button></td>
<td class="target"><a href="${e(bookmark.uri)}" rel="noopener noreferrer nofollow" title="${e(bookmark.uri)}">${e(bookmark.uri)}</a>${title}</td>
<td class="visits">${bookmark.visits}</td>
<td class="status">${statusBadge(bookmark)}</td>
</tr>`;
}

export function renderPage(model: PageModel): string {
  const values = model.values ?? { longuri: '', shortname: '' };
  const message = model.message
    ? `<p class="message ${model.message.kind}" role="${model.message.kind === 'error' ? 'alert' : 'status'}">${e(model.message.text)}</p>`
    : '';
  const rows = model.page.items.map((bookmark) => row(bookmark, model.publicUrl)).join('\n');
  const table = model.page.items.length === 0
    ? '<p class="empty">No bookmarks yet: add the first one above.</p>'
    : `<table class="bookmarks">
<colgroup><col class="name"><col class="target"><col class="visits"><col class="status"></colgroup>
<thead><tr><th scope="col">Short name</th><th scope="col">Target</th><th scope="col">Visits</th><th scope="col">Check</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  const older = model.page.nextCursor === null ? '<span></span>' : `<a href="/?cursor=${encodeURIComponent(model.page.nextCursor)}" rel="next">Older bookmarks →</a>`;
  const newest = model.cursor === undefined ? '<span></span>' : '<a href="/">← Newest</a>';

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bookmark Server</title>
<link rel="stylesheet" href="${e(model.stylesheetUrl)}">
<link rel="icon" href="/favicon.ico">
<script src="${e(model.scriptUrl)}" defer></script>
</head>
<body>
<header class="site"><img src="${e(model.logoUrl)}" alt="" width="32" height="32"><h1>Bookmark Server</h1></header>
<main>
<section class="card" aria-labelledby="add-heading">
<h2 id="add-heading">Add a bookmark</h2>
${message}<form class="create" method="POST" action="/">
<label for="longuri">Long URI
<input id="longuri" name="longuri" type="text" inputmode="url" autocomplete="url" placeholder="https://example.com/a/long/path" value="${e(values.longuri)}" aria-describedby="longuri-hint">
<span class="hint" id="longuri-hint">An http or https address; it is fetched once to check it works.</span>
</label>
<label for="shortname">Short name
<input id="shortname" name="shortname" type="text" autocomplete="off" spellcheck="false" value="${e(values.shortname)}" aria-describedby="shortname-hint">
<span class="hint" id="shortname-hint">Letters, digits, - or _; leave empty for a generated one.</span>
</label>
<button type="submit">Save it!</button>
</form>
</section>
<section class="card" aria-labelledby="list-heading">
<h2 id="list-heading">URIs I know about</h2>
${table}
<nav class="pages" aria-label="Pages">${newest}${older}</nav>
</section>
</main>
</body>
</html>
`;
}
