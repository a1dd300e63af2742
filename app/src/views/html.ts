const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and double- or single-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

/**
 * The document every page shares: head (stylesheets, favicon, optional deferred script), the site
 * header, then `body` (the page's own `<main>` and whatever follows it). `title` is plain text.
 */
export function htmlDocument(page: {
  title: string;
  stylesheetUrls: readonly string[];
  logoUrl: string;
  scriptUrl?: string;
  /** The site name links home (pages other than the list). */
  homeLink?: boolean;
  body: string;
}): string {
  const stylesheets = page.stylesheetUrls.map((url) => `<link rel="stylesheet" href="${escapeHtml(url)}">\n`).join('');
  const script = page.scriptUrl === undefined ? '' : `<script src="${escapeHtml(page.scriptUrl)}" defer></script>\n`;
  const siteName = page.homeLink === true ? '<a href="/">Bookmark Server</a>' : 'Bookmark Server';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
${stylesheets}<link rel="icon" href="/favicon.ico">
${script}</head>
<body>
<header class="site"><img src="${escapeHtml(page.logoUrl)}" alt="" width="32" height="32"><h1>${siteName}</h1></header>
${page.body}</body>
</html>
`;
}
