import { escapeHtml as e, htmlDocument } from './html.ts';

export interface SignInModel {
  stylesheetUrl: string;
  logoUrl: string;
  /** Why the last attempt failed, said to the person. */
  error?: string | undefined;
  /** Why they are asked to sign in (a private instance). */
  notice?: string | undefined;
}

/** A key in a password field: the browser neither shows nor offers to remember it in plain sight. */
export function renderSignIn(model: SignInModel): string {
  const message =
    model.error !== undefined
      ? `<p class="message error" id="form-message" role="alert">${e(model.error)}</p>\n`
      : model.notice !== undefined
        ? `<p class="message ok" role="status">${e(model.notice)}</p>\n`
        : '';
  const describedBy = model.error === undefined ? 'key-hint' : 'form-message key-hint';
  return htmlDocument({
    title: `${model.error === undefined ? '' : 'Error: '}Sign in: Bookmark Server`,
    stylesheetUrls: [model.stylesheetUrl],
    logoUrl: model.logoUrl,
    body: `<main>
<section class="card" aria-labelledby="sign-in-heading">
<h2 id="sign-in-heading">Sign in</h2>
${message}<form class="sign-in" method="POST" action="/sign-in">
<div class="field">
<label for="key">Your key</label>
<input id="key" name="key" type="password" autocomplete="current-password" autocapitalize="none" spellcheck="false" aria-required="true" aria-describedby="${describedBy}"${model.error === undefined ? '' : ' aria-invalid="true" autofocus'}>
<p class="hint" id="key-hint">The key you were given, starting with lyk_. Whoever runs this service makes keys with <code>npm run keys</code>.</p>
</div>
<button type="submit">Sign in</button>
</form>
</section>
</main>
<footer class="account"><a href="/">Back to the bookmarks</a></footer>
`,
  });
}
