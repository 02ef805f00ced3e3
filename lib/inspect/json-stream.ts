// JSON text in pieces: the same text as JSON.stringify(value, null, 2), made while it is
// written, so a document with a million array elements never exists as one string. Arrays may
// be LazyLists, whose elements are made one at a time. The nesting walked is the document's own
// (a handful of levels fixed by the schema), never one an image controls.

/** A list whose elements are made from `source` as they are read (and not kept). */
export class LazyList<T, S = unknown> implements Iterable<T> {
  constructor(
    private readonly source: readonly S[],
    private readonly make: (s: S, i: number) => T,
  ) {}
  get length(): number {
    return this.source.length;
  }
  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.source.length; i++) yield this.make(this.source[i], i);
  }
}

const indented = (text: string, pad: string): string => (pad ? text.replace(/\n/g, `\n${pad}`) : text);

/** JSON.stringify(value, null, 2) as pieces; LazyLists and arrays at the top two levels stream. */
export function* jsonChunks(value: unknown, pad = ''): Generator<string> {
  const inner = pad + '  ';
  if (value instanceof LazyList || (Array.isArray(value) && pad.length < 4)) {
    let first = true;
    for (const x of value as Iterable<unknown>) {
      const text = JSON.stringify(x, null, 2);
      if (text === undefined) continue;
      yield `${first ? '[' : ','}\n${inner}${indented(text, inner)}`;
      first = false;
    }
    yield first ? '[]' : `\n${pad}]`;
    return;
  }
  if (value !== null && typeof value === 'object' && pad.length < 2 && !('toJSON' in value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function');
    if (entries.length === 0) {
      yield '{}';
      return;
    }
    let first = true;
    for (const [k, v] of entries) {
      yield `${first ? '{' : ','}\n${inner}${JSON.stringify(k)}: `;
      yield* jsonChunks(v, inner);
      first = false;
    }
    yield `\n${pad}}`;
    return;
  }
  yield indented(JSON.stringify(value, null, 2), pad);
}
