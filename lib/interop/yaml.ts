// A YAML writer for the plain JSON values the exports produce (objects, arrays, numbers,
// booleans, strings): block style, strings quoted as JSON (valid YAML) when plain would mislead.

type Plain = string | number | boolean | null | Plain[] | { [k: string]: Plain };

function scalar(v: string | number | boolean | null): string {
  if (typeof v !== 'string') return String(v);
  const plain = /^[A-Za-z_][A-Za-z0-9_./-]*$/.test(v) && !/^(true|false|yes|no|on|off|null|y|n|~)$/i.test(v);
  return plain ? v : JSON.stringify(v);
}

function lines(v: Plain, indent: string): string[] {
  if (Array.isArray(v)) {
    if (v.length === 0) return ['[]'];
    if (v.every((x) => x === null || typeof x !== 'object')) return [`[${v.map((x) => scalar(x as string)).join(', ')}]`];
    const out: string[] = [];
    for (const item of v) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length > 0) {
        const sub = block(item, indent + '  ');
        out.push(`\n${indent}- ${sub[0].trimStart()}`, ...sub.slice(1).map((l) => `\n${l}`));
      } else {
        const rest = lines(item, indent + '  ').join('');
        out.push(`\n${indent}-${rest.startsWith('\n') ? '' : ' '}${rest}`);
      }
    }
    return out;
  }
  if (v !== null && typeof v === 'object') {
    if (Object.keys(v).length === 0) return ['{}'];
    return block(v, indent + '  ').map((l) => `\n${l}`);
  }
  return [scalar(v)];
}

function block(v: Plain, indent: string): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [indent + lines(v, indent).join('').trimStart()];
  return Object.entries(v).map(([k, x]) => {
    const rest = lines(x, indent).join('');
    return `${indent}${scalar(k)}:${rest.startsWith('\n') ? '' : ' '}${rest}`;
  });
}

/** YAML text of a plain value, ending in a newline. */
export function toYaml(value: unknown): string {
  return block(value as Plain, '').join('\n') + '\n';
}

// A YAML reader for manifests as kubectl and people write them: block mappings and sequences,
// flow sequences, quoted and plain scalars, comments, the first document of a stream. Anchors,
// tags, block scalars (| >) and non-empty flow mappings are refused, naming the line.

export class YamlError extends Error {
  override name = 'YamlError';
  readonly code = 'ERR_INTEROP_INPUT';
}

interface Line {
  n: number;
  indent: number;
  text: string;
}

/** Strips a comment that starts outside quotes. */
function uncomment(s: string): string {
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (q === '"' && c === '\\') i++;
      else if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]))) return s.slice(0, i);
  }
  return s;
}

/** Splits "a, 'b, c', d" on commas outside quotes and brackets. */
function splitFlow(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let q: string | null = null;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (q === '"' && c === '\\') i++;
      else if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = s.slice(start).trim();
  if (last !== '' || out.length > 0) out.push(last);
  return out;
}

function scalarValue(raw: string, n: number): unknown {
  const s = raw.trim();
  const fail = (why: string) => new YamlError(`YAML line ${n}: ${why}: give the object as JSON instead`);
  if (s.startsWith('"')) {
    try {
      return JSON.parse(s);
    } catch {
      throw fail('a double-quoted string cannot be read');
    }
  }
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) throw fail('an unclosed single-quoted string');
    return s.slice(1, -1).replace(/''/g, "'");
  }
  if (s.startsWith('[')) {
    if (!s.endsWith(']')) throw fail('a flow sequence on more than one line');
    return splitFlow(s.slice(1, -1)).map((x) => scalarValue(x, n));
  }
  if (s === '{}') return {};
  if (/^[{&*!|>%@`]/.test(s)) throw fail(`'${s[0]}' (flow mappings, anchors, tags, block scalars) is not read`);
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  if (/^(true|True|TRUE)$/.test(s)) return true;
  if (/^(false|False|FALSE)$/.test(s)) return false;
  if (/^[-+]?\d+$/.test(s)) return Number(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.slice(2), 16);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  return s;
}

/** "key: rest" split at the first ': ' (or a trailing ':') outside quotes; null when not a pair. */
function splitPair(text: string): [string, string] | null {
  let q: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (q === '"' && c === '\\') i++;
      else if (c === q) q = null;
    } else if ((c === '"' || c === "'") && i === 0) q = c;
    else if (c === ':' && (i + 1 === text.length || text[i + 1] === ' ')) return [text.slice(0, i), text.slice(i + 1)];
    else if (c === '[' && i === 0) return null;
  }
  return null;
}

/** The first document of a YAML text, as JSON values. */
export function fromYaml(text: string): unknown {
  const lines: Line[] = [];
  let started = false;
  for (const [i, rawLine] of text.split(/\r?\n/).entries()) {
    if (/^(---|\.\.\.)\s*$/.test(rawLine) || rawLine.startsWith('--- ')) {
      if (started) break;
      started = true;
      continue;
    }
    if (rawLine.includes('\t') && /^\s*\t/.test(rawLine)) throw new YamlError(`YAML line ${i + 1}: a tab in the indentation`);
    const body = uncomment(rawLine).trimEnd();
    if (body.trim() === '') continue;
    started = true;
    lines.push({ n: i + 1, indent: body.length - body.trimStart().length, text: body.trimStart() });
  }
  let pos = 0;
  const isItem = (l: Line) => l.text === '-' || l.text.startsWith('- ');

  const block = (indent: number): unknown => {
    const l = lines[pos];
    return isItem(l) ? sequence(l.indent) : mapping(indent);
  };
  const valueAfter = (rest: string, ownIndent: number, n: number, inSequence: boolean): unknown => {
    if (rest.trim() !== '') return scalarValue(rest, n);
    const next = lines[pos];
    if (!next) return null;
    if (next.indent > ownIndent) return block(next.indent);
    if (!inSequence && next.indent === ownIndent && isItem(next)) return sequence(ownIndent);
    return null;
  };
  function mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (pos < lines.length && lines[pos].indent === indent && !isItem(lines[pos])) {
      const l = lines[pos++];
      const pair = splitPair(l.text);
      if (!pair) throw new YamlError(`YAML line ${l.n}: expected 'key: value'`);
      const k = scalarValue(pair[0], l.n);
      out[String(k)] = valueAfter(pair[1], indent, l.n, false);
    }
    if (pos < lines.length && lines[pos].indent > indent) throw new YamlError(`YAML line ${lines[pos].n}: unexpected indentation`);
    return out;
  }
  function sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    while (pos < lines.length && lines[pos].indent === indent && isItem(lines[pos])) {
      const l = lines[pos];
      const content = l.text === '-' ? '' : l.text.slice(2);
      const inner = indent + 2 + (content.length - content.trimStart().length);
      if (content.trim() === '') {
        pos++;
        out.push(valueAfter('', indent, l.n, true));
      } else if (/^-( |$)/.test(content.trimStart()) || splitPair(content.trimStart())) {
        // The item's first line is inside it: read it as a line of its own at its column.
        lines[pos] = { n: l.n, indent: inner, text: content.trimStart() };
        out.push(block(inner));
      } else {
        pos++;
        out.push(scalarValue(content, l.n));
      }
    }
    return out;
  }
  if (lines.length === 0) return null;
  const v = block(lines[0].indent);
  if (pos < lines.length) throw new YamlError(`YAML line ${lines[pos].n}: unexpected indentation`);
  return v;
}
