import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TitleFinder } from '../../src/check/page-title.ts';
import { TITLE_PAGE, TITLE_TEXT } from './fixtures/target.ts';

function titleOf(pieces: string[]): { title: string | null; done: boolean } {
  const finder = new TitleFinder();
  for (const piece of pieces) finder.write(piece);
  return { title: finder.title, done: finder.done };
}

test('the title is found however the HTML is split, entities included', () => {
  assert.deepEqual(titleOf([TITLE_PAGE]), { title: TITLE_TEXT, done: true });
  // One character at a time splits every tag and entity.
  assert.deepEqual(titleOf(Array.from(TITLE_PAGE)), { title: TITLE_TEXT, done: true });
});

test('markup inside <title> is text, and only the first title counts', () => {
  assert.equal(titleOf(['<title>a <b>bold</b> &quot;claim&quot;</title><title>second</title>']).title, 'a <b>bold</b> "claim"');
});

test('no title, an empty one, or one cut off by the byte limit', () => {
  assert.deepEqual(titleOf(['<html><body>no title here</body></html>']), { title: null, done: false });
  assert.equal(titleOf(['<title> \n\t </title>']).title, null);
  assert.deepEqual(titleOf(['<title>Cut   off']), { title: 'Cut off', done: false });
});

test('an SVG title is not the page title', () => {
  assert.equal(titleOf(['<svg><title>icon</title></svg><title>Page</title>']).title, 'Page');
});

test('tag names in any case; a self-closed <svg> ends where it starts', () => {
  assert.equal(titleOf(['<SVG><TITLE>icon</TITLE></SVG><TITLE>Upper &AMP; case</Title >']).title, 'Upper & case');
  assert.equal(titleOf(['<svg/><title>after the icon</title>']).title, 'after the icon');
  assert.equal(titleOf(['<svg><svg></svg><title>still the drawing</title></svg><title>page</title>']).title, 'page');
});

test('"<title>" in a comment, a script, a textarea or an attribute is not a title', () => {
  const page =
    '<!-- <title>c</title> --><script>"<title>s</title>"</script><textarea><title>t</title></textarea>' +
    '<div title="<title>a</title>" data-x=\'&amp;<title>\'><title>the page</title>';
  assert.equal(titleOf([page]).title, 'the page');
  // Split everywhere, so each of them spans writes.
  assert.equal(titleOf(Array.from(page)).title, 'the page');
});

test('a title after long content written in small pieces, its tag split between them', () => {
  const page = `<p>${'lorem ipsum '.repeat(3000)}</p><!--${'-'.repeat(5000)}--><title>late</title>`;
  const pieces: string[] = [];
  for (let i = 0; i < page.length; i += 7) pieces.push(page.slice(i, i + 7));
  assert.deepEqual(titleOf(pieces), { title: 'late', done: true });
});
