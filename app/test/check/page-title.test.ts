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
