// Graphviz DOT of an image's object graph (`cr-creds inspect --dot`). Deterministic: the graph's
// own stable order, one node per shared object, ranks top to bottom: tasks, creds, users and
// group lists, user namespaces.
import type { Image } from '../format/types';
import { toGraph, type GraphEdgeKind, type GraphNodeKind, type GraphOptions, type ObjectGraph } from './graph';

/**
 * Text made safe for the inside of a DOT double-quoted string: backslashes and quotes escaped
 * (so Graphviz's own escapes such as \N or \l cannot be smuggled in), control characters shown
 * as \xHH, lone surrogates replaced.
 */
export function dotEscape(text: string): string {
  return text
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Lines joined left-justified (\l ends every line, Graphviz's left-aligned newline). */
function label(lines: readonly string[]): string {
  return lines.map((l) => `${dotEscape(l)}\\l`).join('');
}

const NODE_STYLE: Record<GraphNodeKind, string> = {
  task: 'shape=box, style="rounded,filled", fillcolor="#e8f0fe"',
  cred: 'shape=box, style=filled, fillcolor="#fef7e0"',
  groupinfo: 'shape=box, style=filled, fillcolor="#e6f4ea"',
  user: 'shape=box, style=filled, fillcolor="#fce8e6"',
  user_ns: 'shape=box, style="filled,bold", fillcolor="#f3e8fd"',
};

const EDGE_STYLE: Record<GraphEdgeKind, string> = {
  'real+effective': 'penwidth=2',
  real: '',
  effective: 'style=dashed',
  groups: 'color="#188038"',
  user: 'color="#c5221f"',
  ns: 'color="#8430ce"',
  creator: 'style=dotted, color="#c5221f", constraint=false',
  parent: 'style=bold, color="#8430ce", constraint=false',
};

/** The DOT text of a graph (see toGraph). */
export function graphToDot(g: ObjectGraph): string {
  return [...dotLines(g)].join('\n') + '\n';
}

/** The DOT text's lines, without their newlines, made one at a time. */
export function* dotLines(g: ObjectGraph): Generator<string> {
  yield 'digraph "cr-creds" {';
  yield `  graph [rankdir=TB, fontname="monospace", fontsize=11, labelloc=t, label="${dotEscape(g.title)}"];`;
  yield '  node [fontname="monospace", fontsize=10];';
  yield '  edge [fontname="monospace", fontsize=9];';
  const ranks: [GraphNodeKind[], string][] = [
    [['task'], 'tasks'],
    [['cred'], 'creds'],
    [['groupinfo', 'user'], 'users and group lists'],
    [['user_ns'], 'user namespaces'],
  ];
  for (const [kinds, what] of ranks) {
    const members = g.nodes.filter((n) => kinds.includes(n.kind));
    if (members.length === 0) continue;
    yield '';
    yield `  // ${what}`;
    for (const n of members) yield `  ${n.id} [${NODE_STYLE[n.kind]}, label="${label([n.title, ...n.lines])}"];`;
    yield `  { rank=same; ${members.map((n) => n.id).join('; ')}; }`;
  }
  if (g.edges.length) {
    yield '';
    yield '  // edges';
  }
  for (const e of g.edges) {
    const style = EDGE_STYLE[e.kind];
    yield `  ${e.from} -> ${e.to} [label="${dotEscape(e.label)}"${style ? `, ${style}` : ''}];`;
  }
  yield '}';
}

/** The DOT text of an image's object graph. `objrefs`: the decoder's details, when known. */
export function renderDot(image: Image, objrefs?: Map<object, number>, options?: GraphOptions): string {
  return graphToDot(toGraph(image, objrefs, options));
}
