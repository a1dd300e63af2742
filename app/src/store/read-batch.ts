/**
 * Gathers the keys asked for in one turn of the event loop into one read (`readMany`, called at
 * `setImmediate`, at most `maxKeys` keys a call). A redirect that misses the cache is one
 * PostgreSQL round trip; under traffic spread over many links, most are, and each statement's
 * cost (the driver's message building and parsing, a socket write and read on both sides, the
 * server's per-statement work) was most of a miss's. The requests an event-loop turn hands to
 * the app arrive together, so their misses now share one statement (decision 0021).
 *
 * Every caller gets its own key's value (undefined when `readMany` has none) or, if the read
 * fails, the same error as every other key of that read.
 */
export class ReadBatch<V> {
  readonly #readMany: (keys: string[]) => Promise<Map<string, V>>;
  readonly #maxKeys: number;
  #waiting = new Map<string, Array<{ resolve: (value: V | undefined) => void; reject: (error: unknown) => void }>>();
  #scheduled = false;

  constructor(readMany: (keys: string[]) => Promise<Map<string, V>>, maxKeys: number) {
    this.#readMany = readMany;
    this.#maxKeys = maxKeys;
  }

  read(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const callers = this.#waiting.get(key);
      if (callers === undefined) this.#waiting.set(key, [{ resolve, reject }]);
      else callers.push({ resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#send());
      }
    });
  }

  #send(): void {
    this.#scheduled = false;
    const waiting = this.#waiting;
    this.#waiting = new Map();
    const keys = [...waiting.keys()];
    for (let start = 0; start < keys.length; start += this.#maxKeys) {
      const chunk = keys.slice(start, start + this.#maxKeys);
      this.#readMany(chunk).then(
        (values) => {
          for (const key of chunk) for (const caller of waiting.get(key) ?? []) caller.resolve(values.get(key));
        },
        (error: unknown) => {
          for (const key of chunk) for (const caller of waiting.get(key) ?? []) caller.reject(error);
        },
      );
    }
  }
}
