// Images and parsers shared by the graph tests (DOT lines, SVG well-formedness).
import { decodeDetailed, encode, ImageBuilder, type Image } from '../../lib/format';
import { fullCapSet } from '../../lib/model/capabilities';

/**
 * Three tasks: tasks 0 and 1 share one cred (real = effective) whose user lives three levels
 * down (root -> ns1 -> ns2); task 2 has a real cred of its own and the shared cred as effective.
 */
export function chainImage(): Image {
  const b = new ImageBuilder({ header: { time: 0n } });
  const ns1 = b.namespace(b.user(1000), { uidMap: [{ inside: 0, outside: 1000, count: 1 }], gidMap: [{ inside: 0, outside: 1000, count: 1 }], setgroups: 'deny' });
  const ns2 = b.namespace(b.user(0, ns1), { uidMap: [{ inside: 0, outside: 0, count: 65536 }] });
  const all = fullCapSet(40);
  const shared = b.cred({ uid: 0, gid: 0, user: b.user(0, ns2), groups: [4, 100], caps: { permitted: all, effective: all, bounding: all }, securebits: 0x15 });
  const own = b.cred({ uid: 1000, euid: 1001, gid: 100, groups: [4, 100], caps: { permitted: 0x3n, ambient: 0x1n, inheritable: 0x1n }, securebits: null });
  b.task(shared, { pids: { vpid: 10, vppid: 1 } });
  b.task(shared, { pids: { vpid: 11, vppid: 10, depth: 1 } });
  b.task(own, { ecred: shared, pids: { vpid: 12, vppid: 10, depth: 1 }, noNewPrivs: true });
  return b.build();
}

/** The image through encode and the detailed decoder: objrefs as a file gives them. */
export function decoded(image: Image): { image: Image; objrefs: Map<object, number> } {
  const { image: again, details } = decodeDetailed(encode(image));
  return { image: again, objrefs: details.objrefs };
}

export interface DotNode {
  id: string;
  attrs: string;
  /** The label with DOT escapes undone, lines split at \l. */
  lines: string[];
}

export interface DotEdge {
  from: string;
  to: string;
  label: string;
  attrs: string;
}

const QUOTED = '"((?:[^"\\\\]|\\\\.)*)"';

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => c);
}

/** Node and edge statements of the DOT renderer's output, one per line; throws on other lines. */
export function parseDot(text: string): { nodes: DotNode[]; edges: DotEdge[]; ranks: string[][] } {
  const lines = text.split('\n');
  if (!/^digraph "cr-creds" \{$/.test(lines[0])) throw new Error(`first line: ${lines[0]}`);
  const nodes: DotNode[] = [];
  const edges: DotEdge[] = [];
  const ranks: string[][] = [];
  const nodeRe = new RegExp(`^ {2}([A-Za-z_][A-Za-z0-9_]*) \\[(.*)label=${QUOTED}\\];$`);
  const edgeRe = new RegExp(`^ {2}([A-Za-z_][A-Za-z0-9_]*) -> ([A-Za-z_][A-Za-z0-9_]*) \\[label=${QUOTED}(.*)\\];$`);
  for (const line of lines.slice(1)) {
    if (line === '' || line === '}' || /^ {2}\/\/ /.test(line) || /^ {2}(graph|node|edge) \[/.test(line)) continue;
    const rank = /^ {2}\{ rank=same; (.*); \}$/.exec(line);
    if (rank) {
      ranks.push(rank[1].split('; '));
      continue;
    }
    const e = edgeRe.exec(line);
    if (e) {
      edges.push({ from: e[1], to: e[2], label: unescape(e[3]), attrs: e[4] });
      continue;
    }
    const n = nodeRe.exec(line);
    if (n) {
      // \l ends each line; split on an unescaped \l.
      const raw = n[3];
      const parts: string[] = [];
      let cur = '';
      for (let i = 0; i < raw.length; i++) {
        if (raw[i] === '\\' && raw[i + 1] === 'l') {
          parts.push(cur);
          cur = '';
          i++;
        } else if (raw[i] === '\\') {
          cur += raw[i + 1];
          i++;
        } else cur += raw[i];
      }
      if (cur !== '') parts.push(cur);
      nodes.push({ id: n[1], attrs: n[2], lines: parts });
      continue;
    }
    throw new Error(`unexpected DOT line: ${line}`);
  }
  if (lines[lines.length - 2] !== '}' || lines[lines.length - 1] !== '') throw new Error('DOT does not end with }');
  return { nodes, edges, ranks };
}

/**
 * A parser-free well-formedness check for the SVG renderer's output: one root, tags balanced
 * and properly nested (a regex walk over tags), attributes quoted, no stray '<' or '&' in text.
 * Returns the element names in document order.
 */
export function checkWellFormedXml(xml: string): string[] {
  let s = xml;
  const decl = /^<\?xml [^?]*\?>\s*/.exec(s);
  if (decl) s = s.slice(decl[0].length);
  const tagRe = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*(\/?)>/g;
  const stack: string[] = [];
  const names: string[] = [];
  let pos = 0;
  let roots = 0;
  const checkAmp = (t: string, at: number) => {
    const amp = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.exec(t);
    if (amp) throw new Error(`bare '&' at ${at + amp.index}`);
  };
  const checkText = (t: string, at: number) => {
    if (t.includes('<')) throw new Error(`stray '<' at ${at}`);
    if (t.includes('>')) throw new Error(`stray '>' at ${at}`);
    checkAmp(t, at);
    if (stack.length === 0 && t.trim() !== '') throw new Error(`text outside the root at ${at}`);
  };
  for (let m = tagRe.exec(s); m; m = tagRe.exec(s)) {
    checkText(s.slice(pos, m.index), pos);
    const [, close, name, attrs, self] = m;
    for (const a of attrs.matchAll(/="([^"]*)"/g)) checkAmp(a[1], m.index);
    if (close) {
      if (self) throw new Error(`</${name}/> at ${m.index}`);
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at ${m.index}`);
    } else {
      if (stack.length === 0) roots++;
      names.push(name);
      if (!self) stack.push(name);
    }
    pos = tagRe.lastIndex;
  }
  checkText(s.slice(pos), pos);
  if (stack.length) throw new Error(`unclosed: ${stack.join(' ')}`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return names;
}
