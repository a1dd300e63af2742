import { Parser } from 'htmlparser2';

const MAX_TITLE_LENGTH = 300;

/**
 * Finds the document's <title> in HTML fed to it piece by piece, so the caller can stop reading
 * the body as soon as `done` is true. htmlparser2 treats <title> as RCDATA, so markup inside it
 * stays text and entities are decoded. A <title> inside inline SVG names the drawing, not the
 * page, so it is skipped.
 */
export class TitleFinder {
  readonly #parser: Parser;
  #svgDepth = 0;
  #inTitle = false;
  #text = '';
  #done = false;

  constructor() {
    this.#parser = new Parser(
      {
        // onopentagname, not onopentag: with no onopentag handler htmlparser2 builds no attribute
        // object per tag, and a page is mostly tags whose attributes we never read.
        onopentagname: (name) => {
          if (name === 'svg') this.#svgDepth++;
          else if (name === 'title' && this.#svgDepth === 0 && !this.#done) this.#inTitle = true;
        },
        ontext: (text) => {
          // Bounded so a hostile page cannot grow the string; whitespace may still collapse.
          if (this.#inTitle && this.#text.length < MAX_TITLE_LENGTH * 4) this.#text += text;
        },
        onclosetag: (name) => {
          if (name === 'svg') this.#svgDepth = Math.max(0, this.#svgDepth - 1);
          else if (name === 'title' && this.#inTitle) {
            this.#inTitle = false;
            this.#done = true;
          }
        },
      },
      { decodeEntities: true },
    );
  }

  get done(): boolean {
    return this.#done;
  }

  write(html: string): void {
    if (!this.#done) this.#parser.write(html);
  }

  /** The title, whitespace collapsed, or null when the page has none (or an empty one). */
  get title(): string | null {
    const title = this.#text.replace(/\s+/g, ' ').trim();
    if (title === '') return null;
    const characters = Array.from(title);
    if (characters.length <= MAX_TITLE_LENGTH) return title;
    return `${characters.slice(0, MAX_TITLE_LENGTH - 1).join('').trimEnd()}…`;
  }
}
