import { escapeHtml as e, htmlDocument } from './html.ts';

/** 410 for a link an admin disabled, whose host is blocked, or that expired: in the voice of the seed's "I don't know 'x'." */
export function renderGone(model: { name: string; stylesheetUrl: string; logoUrl: string; expired?: boolean }): string {
  const [heading, text] =
    model.expired === true
      ? ['but it has expired', 'This link was made to last until a date or a number of visits, and that has passed. Sorry!']
      : ['but it is switched off', 'Whoever runs this server has turned this link off, so it leads nowhere now. Sorry!'];
  return htmlDocument({
    title: 'Gone · Bookmark Server',
    stylesheetUrls: [model.stylesheetUrl],
    logoUrl: model.logoUrl,
    body: `<main>
<section class="card">
<h2>I knew '${e(model.name)}', ${heading}</h2>
<p>${text}</p>
<p><a href="/">Back to the bookmarks</a></p>
</section>
</main>
`,
  });
}
