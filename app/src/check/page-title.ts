import { type QuoteType, Tokenizer, type TokenizerCallbacks } from 'htmlparser2';

const MAX_TITLE_LENGTH = 300;

/**
 * Finds the document's <title> in HTML fed to it piece by piece, so the caller can stop reading
 * the body as soon as `done` is true. htmlparser2's tokenizer treats <title> as RCDATA, so markup
 * inside it stays text and entities are decoded. A <title> inside inline SVG names the drawing,
 * not the page, so it is skipped.
 *
 * The tokenizer alone, not htmlparser2's Parser: the Parser makes a string of every tag name,
 * attribute value and text node (and keeps an element stack) whether or not a handler wants them;
 * here only the title's text and the names that could be "title" or "svg" become strings (the
 * figures: docs/decisions/0018-what-a-check-allocates.md). Indices are offsets into everything
 * written; a tag name may start in an earlier chunk than it ends in, so chunks are kept until
 * the tokenizer has moved past them.
 */
export class TitleFinder implements TokenizerCallbacks {
  readonly #tokenizer = new Tokenizer({ decodeEntities: true }, this);
  #chunks: string[] = [];
  /** Offset of #chunks[0]'s first character. */
  #chunksStart = 0;
  /** Every offset below this is behind the tokenizer: no section still to report starts there. */
  #consumed = 0;
  #svgDepth = 0;
  /** The open tag being read is <svg>, so a self-closing end closes it again. */
  #inSvgTag = false;
  #inTitle = false;
  #text = '';
  #done = false;

  get done(): boolean {
    return this.#done;
  }

  write(html: string): void {
    if (this.#done) return;
    this.#chunks.push(html);
    this.#tokenizer.write(html);
    let first = this.#chunks[0];
    while (first !== undefined && this.#chunks.length > 1 && this.#chunksStart + first.length <= this.#consumed) {
      this.#chunksStart += first.length;
      this.#chunks.shift();
      first = this.#chunks[0];
    }
  }

  /** The title, whitespace collapsed, or null when the page has none (or an empty one). */
  get title(): string | null {
    const title = this.#text.replace(/\s+/g, ' ').trim();
    if (title === '') return null;
    const characters = Array.from(title);
    if (characters.length <= MAX_TITLE_LENGTH) return title;
    return `${characters
      .slice(0, MAX_TITLE_LENGTH - 1)
      .join('')
      .trimEnd()}…`;
  }

  /** The characters from `start` to `end`, which may span chunks. */
  #slice(start: number, end: number): string {
    let text = '';
    let offset = this.#chunksStart;
    for (const chunk of this.#chunks) {
      if (offset >= end) break;
      if (offset + chunk.length > start) text += chunk.slice(Math.max(0, start - offset), end - offset);
      offset += chunk.length;
    }
    return text;
  }

  /** Whether the name from `start` to `end` is `name`, in any case; a string only when the length matches. */
  #named(start: number, end: number, name: 'title' | 'svg'): boolean {
    return end - start === name.length && this.#slice(start, end).toLowerCase() === name;
  }

  #addText(text: string): void {
    // Bounded so a hostile page cannot grow the string; whitespace may still collapse.
    if (this.#text.length < MAX_TITLE_LENGTH * 4) this.#text += text;
  }

  onopentagname(start: number, end: number): void {
    this.#consumed = end;
    this.#inSvgTag = this.#named(start, end, 'svg');
    if (this.#inSvgTag) this.#svgDepth++;
    else if (this.#svgDepth === 0 && this.#named(start, end, 'title')) this.#inTitle = true;
  }

  onselfclosingtag(end: number): void {
    this.#consumed = end;
    if (this.#inSvgTag) this.#svgDepth--;
    this.#inSvgTag = false;
  }

  onopentagend(end: number): void {
    this.#consumed = end;
    this.#inSvgTag = false;
  }

  onclosetag(start: number, end: number): void {
    this.#consumed = end;
    if (this.#named(start, end, 'svg')) this.#svgDepth = Math.max(0, this.#svgDepth - 1);
    else if (this.#inTitle && this.#named(start, end, 'title')) {
      this.#inTitle = false;
      this.#done = true;
      this.#tokenizer.pause();
    }
  }

  ontext(start: number, end: number): void {
    this.#consumed = end;
    if (this.#inTitle) this.#addText(this.#slice(start, end));
  }

  ontextentity(codepoint: number, end: number): void {
    this.#consumed = end;
    if (this.#inTitle) this.#addText(String.fromCodePoint(codepoint));
  }

  /** Foreign content (SVG) has no RCDATA: a <title> there is an ordinary element. */
  isInForeignContext(): boolean {
    return this.#svgDepth > 0;
  }

  onattribname(_start: number, end: number): void {
    this.#consumed = end;
  }

  onattribdata(_start: number, end: number): void {
    this.#consumed = end;
  }

  onattribentity(): void {}

  onattribend(_quote: QuoteType, end: number): void {
    this.#consumed = Math.max(this.#consumed, end);
  }

  oncdata(_start: number, end: number, endOffset: number): void {
    this.#consumed = end + endOffset;
  }

  oncomment(_start: number, end: number, endOffset: number): void {
    this.#consumed = end + endOffset;
  }

  ondeclaration(_start: number, end: number): void {
    this.#consumed = end;
  }

  onprocessinginstruction(_start: number, end: number): void {
    this.#consumed = end;
  }

  onend(): void {}
}
