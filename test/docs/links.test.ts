/**
 * Every relative link in the project's Markdown resolves: the file exists, and an `#anchor` into a
 * Markdown file names one of its headings. Pages move (docs/ is re-laid, code moves between
 * folders), and a dead link is only noticed by the reader who follows it.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The pages checked: the top-level ones, everything under docs/, and the folder READMEs. */
const CHECKED_FILES = ['README.md', 'CHANGELOG.md', 'proxy/README.md', 'loadtest/README.md', 'k6/README.md'];
const CHECKED_TREES = ['docs'];

export interface Link {
  /** The page the link is on, relative to the repository. */
  page: string;
  line: number;
  target: string;
}

function markdownUnder(folder: string): string[] {
  const absolute = join(ROOT, folder);
  if (!existsSync(absolute)) return [];
  return readdirSync(absolute, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(folder, name));
}

export function pagesToCheck(): string[] {
  return [...CHECKED_FILES.filter((page) => existsSync(join(ROOT, page))), ...CHECKED_TREES.flatMap(markdownUnder)].sort();
}

/** Fenced code blocks and inline code spans hold examples, not links: blank them, keeping line numbers. */
function withoutCode(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/`[^`\n]*`/g, (span) => ' '.repeat(span.length));
}

/** Inline links and images, `[text](target)` and `![alt](target "title")`, and reference definitions `[x]: target`. */
export function linksIn(page: string, markdown: string): Link[] {
  const links: Link[] = [];
  withoutCode(markdown)
    .split('\n')
    .forEach((text, index) => {
      for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        links.push({ page, line: index + 1, target: match[1] ?? '' });
      }
      const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(text);
      if (definition) links.push({ page, line: index + 1, target: definition[1] ?? '' });
    });
  return links;
}

/** GitHub's heading anchor: lowercase, punctuation and symbols dropped (hyphens and underscores kept), spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a Markdown page offers: one per heading, repeated headings numbered `-1`, `-2`… as GitHub does. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCode(markdown).split('\n')) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1] ?? '');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

const EXTERNAL = /^[a-z][a-z0-9+.-]*:/i;

/** Why a link does not resolve, or undefined when it does. Links with a scheme (https:, mailto:) are not followed. */
export function brokenReason(link: Link, root: string = ROOT): string | undefined {
  if (EXTERNAL.test(link.target)) return undefined;
  const [pathPart = '', anchor] = link.target.split('#', 2);
  const path = decodeURIComponent(pathPart);
  const file = path === '' ? join(root, link.page) : resolve(join(root, dirname(link.page)), path);
  if (!file.startsWith(root)) return `${path} points outside the repository`;
  if (!existsSync(file)) return `${relative(root, file)} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md')) return undefined;
  const anchors = anchorsOf(readFileSync(file, 'utf8'));
  return anchors.has(anchor) ? undefined : `${relative(root, file)} has no heading #${anchor}`;
}

export function brokenLinks(pages: string[], root: string = ROOT): string[] {
  return pages.flatMap((page) =>
    linksIn(page, readFileSync(join(root, page), 'utf8')).flatMap((link) => {
      const reason = brokenReason(link, root);
      return reason === undefined ? [] : [`${link.page}:${link.line}: (${link.target}) ${reason}`];
    }),
  );
}

describe('links in the documentation', () => {
  test('GitHub slugs: lowercase, punctuation dropped, spaces to hyphens', () => {
    assert.equal(slug('Creating bookmarks: POST /api/bookmarks'), 'creating-bookmarks-post-apibookmarks');
    assert.equal(slug('Redirect throughput: GET /<name> → 303'), 'redirect-throughput-get---303');
    assert.equal(slug('`npm start`: what it fetches'), 'npm-start-what-it-fetches');
    assert.equal(slug('Node ≥ 22.19 and the_flag'), 'node--2219-and-the_flag');
    assert.deepEqual([...anchorsOf('# A\n## A\n```\n# not a heading\n```\n## A\n')], ['a', 'a-1', 'a-2']);
  });

  test('links and images are found outside code, with their line', () => {
    const page = 'docs/x.md';
    const found = linksIn(page, 'see [a](b.md#c) and ![img](../d.png "title")\n`[no](e.md)`\n```\n[no](f.md)\n```\n[ref]: g.md\n');
    assert.deepEqual(found, [
      { page, line: 1, target: 'b.md#c' },
      { page, line: 1, target: '../d.png' },
      { page, line: 6, target: 'g.md' },
    ]);
  });

  test('every relative link and anchor resolves', () => {
    const pages = pagesToCheck();
    assert.ok(pages.includes('README.md') && pages.some((page) => page.startsWith('docs/')), `pages found: ${pages.join(', ')}`);
    const broken = brokenLinks(pages);
    assert.deepEqual(broken, [], `${broken.length} broken link(s):\n${broken.join('\n')}`);
  });
});
