// Progressive enhancement: the page works without this file. With it, each short link gets a
// button that copies its full URL to the clipboard. The buttons are in the HTML, hidden, so a
// browser without JavaScript shows nothing that cannot work.
const buttons = document.querySelectorAll('button.copy[data-copy]');

// One polite live region tells screen reader users what happened: a button's changed text is not
// announced reliably, and its accessible name (aria-label) does not change.
const status = document.createElement('p');
status.className = 'visually-hidden';
status.setAttribute('role', 'status');
if (buttons.length > 0) document.body.append(status);

for (const button of buttons) {
  const label = button.textContent;
  let timer;
  button.hidden = false;
  button.addEventListener('click', async () => {
    const url = button.dataset.copy;
    try {
      await navigator.clipboard.writeText(url);
      button.textContent = 'Copied';
      status.textContent = `Copied ${url}`;
    } catch {
      // No clipboard access (an insecure origin, a denied permission): the URL is still one
      // right-click away on the link itself.
      button.textContent = 'Copy failed';
      status.textContent = `Could not copy ${url}; copy the link instead.`;
    }
    clearTimeout(timer);
    timer = setTimeout(() => {
      button.textContent = label;
    }, 2000);
  });
}
