import { escapeHtml as e } from './html.ts';

/** 410 for a link an admin disabled, whose host is blocked, or that expired: in the voice of the seed's "I don't know 'x'." */
export function renderGone(model: { name: string; stylesheetUrl: string; logoUrl: string; expired?: boolean }): string {
  const [heading, text] =
    model.expired === true
      ? ['but it has expired', 'This link was made to last until a date or a number of visits, and that has passed. Sorry!']
      : ['but it is switched off', 'Whoever runs this server has turned this link off, so it leads nowhere now. Sorry!'];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gone · Bookmark Server</title>
<link rel="stylesheet" href="${e(model.stylesheetUrl)}">
<link rel="icon" href="/favicon.ico">
</head>
<body>
<header class="site"><img src="${e(model.logoUrl)}" alt="" width="32" height="32"><h1>Bookmark Server</h1></header>
<main>
<section class="card">
<h2>I knew '${e(model.name)}', ${heading}</h2>
<p>${text}</p>
<p><a href="/">Back to the bookmarks</a></p>
</section>
</main>
</body>
</html>
`;
}
