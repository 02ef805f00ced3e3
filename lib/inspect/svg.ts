// A self-contained SVG of an image's object graph (`cr-creds inspect --svg`), laid out without
// Graphviz: four layers, top to bottom (tasks; creds; users and group lists; user namespaces),
// each ordered to follow the layer above (mean position of what points at a node), namespaces
// ordered by the chain (level, then position). A layer wider than the page wraps into rows.
import type { Image } from '../format/types';
import { toGraph, type GraphEdge, type GraphEdgeKind, type GraphNode, type GraphNodeKind, type GraphOptions, type ObjectGraph } from './graph';

/** The largest of many numbers (Math.max(...xs) would exceed the argument limit on a huge graph). */
function maxOf(xs: readonly number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}

/**
 * Text made safe for XML content and attribute values: the five special characters as entities,
 * characters XML 1.0 forbids (controls other than tab/newline/CR, lone surrogates, U+FFFE/F)
 * replaced by U+FFFD.
 */
export function xmlEscape(text: string): string {
  return text
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export interface SvgOptions extends GraphOptions {
  /** Widest row before a layer wraps (default 2400 px). */
  maxRowWidth?: number;
}

const FONT = 11;
const CHAR_W = 6.7; // monospace advance at 11 px, a little generous
const LINE_H = 14;
const PAD_X = 8;
const PAD_Y = 6;
const GAP_X = 24;
const GAP_ROW = 28;
const GAP_LAYER = 90;
const MARGIN = 20;
const MAX_CHARS = 60;

const FILL: Record<GraphNodeKind, string> = {
  task: '#e8f0fe',
  cred: '#fef7e0',
  groupinfo: '#e6f4ea',
  user: '#fce8e6',
  user_ns: '#f3e8fd',
};
const STROKE: Record<GraphNodeKind, string> = {
  task: '#1a73e8',
  cred: '#b06000',
  groupinfo: '#188038',
  user: '#c5221f',
  user_ns: '#8430ce',
};
const EDGE_COLOR: Record<GraphEdgeKind, string> = {
  'real+effective': '#202124',
  real: '#202124',
  effective: '#202124',
  groups: '#188038',
  user: '#c5221f',
  ns: '#8430ce',
  creator: '#c5221f',
  parent: '#8430ce',
};
const LABELLED = new Set<GraphEdgeKind>(['real', 'effective', 'creator', 'parent']);
const EDGE_DASH: Partial<Record<GraphEdgeKind, string>> = { effective: '6 4', creator: '2 3' };
const EDGE_WIDTH: Partial<Record<GraphEdgeKind, number>> = { 'real+effective': 2.2, parent: 2 };

interface Box {
  node: GraphNode;
  lines: string[];
  w: number;
  h: number;
  x: number; // left
  y: number; // top
  layer: number;
  row: number; // global row index (layers wrap into several)
}

const LAYER: Record<GraphNodeKind, number> = { task: 0, cred: 1, groupinfo: 2, user: 2, user_ns: 3 };

function clip(s: string): string {
  return s.length > MAX_CHARS ? `${s.slice(0, MAX_CHARS - 1)}…` : s;
}

function fmt(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

/** Orders each layer, places boxes in rows; returns boxes by id and the canvas size. */
const LEGEND_FONT = 9;
const LEGEND_LINE_H = 12;
const LEGEND = [
  'thick: real = effective cred (one object)',
  'dashed: effective',
  'green: groups',
  'red: user',
  'purple: ns',
  'dotted: creator',
];

/** Width of monospace text at a font size (bold is a little wider). */
function textWidth(text: string, size: number, bold = false): number {
  return text.length * CHAR_W * (size / FONT) * (bold ? 1.1 : 1);
}

/** The legend's items in lines no wider than `width`. */
function legendLines(width: number): string[] {
  const lines: string[] = [];
  for (const item of LEGEND) {
    const last = lines.length ? lines[lines.length - 1] : undefined;
    if (last !== undefined && textWidth(`${last}; ${item}`, LEGEND_FONT) <= width) lines[lines.length - 1] = `${last}; ${item}`;
    else lines.push(item);
  }
  return lines;
}

function layout(g: ObjectGraph, maxRowWidth: number): { boxes: Map<string, Box>; width: number; height: number; legend: string[] } {
  const boxes = new Map<string, Box>();
  const graphOrder = new Map(g.nodes.map((n, i) => [n.id, i]));
  for (const node of g.nodes) {
    const lines = [node.title, ...node.lines].map(clip);
    const w = Math.ceil(maxOf(lines.map((l) => l.length)) * CHAR_W + 2 * PAD_X);
    const h = lines.length * LINE_H + 2 * PAD_Y;
    boxes.set(node.id, { node, lines, w, h, x: 0, y: 0, layer: LAYER[node.kind], row: 0 });
  }
  const incoming = new Map<string, GraphEdge[]>();
  for (const e of g.edges) {
    if (!incoming.has(e.to)) incoming.set(e.to, []);
    (incoming.get(e.to) as GraphEdge[]).push(e);
  }
  const layers: Box[][] = [[], [], [], []];
  for (const b of boxes.values()) layers[b.layer].push(b);

  // Sequential ordering keys: the layer above's positions (index in its order).
  const pos = new Map<string, number>();
  const place = (list: Box[]) => list.forEach((b, i) => pos.set(b.node.id, i));
  const meanFrom = (id: string, fromLayer: number): number | undefined => {
    const xs = (incoming.get(id) ?? [])
      .map((e) => boxes.get(e.from) as Box)
      .filter((b) => b.layer === fromLayer)
      .map((b) => pos.get(b.node.id) as number);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
  };
  const byKey = (list: Box[], key: Map<string, number>) =>
    list.sort((a, b) => {
      const ka = key.get(a.node.id) ?? Number.POSITIVE_INFINITY;
      const kb = key.get(b.node.id) ?? Number.POSITIVE_INFINITY;
      return ka !== kb ? (ka < kb ? -1 : 1) : (graphOrder.get(a.node.id) as number) - (graphOrder.get(b.node.id) as number);
    });

  // Tasks grouped by their real cred (in the creds' first-use order), then in image order.
  const taskKey = new Map<string, number>();
  for (const e of g.edges)
    if (e.kind === 'real' || e.kind === 'real+effective') taskKey.set(e.from, graphOrder.get(e.to) as number);
  place(byKey(layers[0], taskKey));
  const credKey = new Map<string, number>();
  for (const b of layers[1]) credKey.set(b.node.id, meanFrom(b.node.id, 0) ?? Number.POSITIVE_INFINITY);
  place(byKey(layers[1], credKey));

  // Users and group lists under the creds that use them. A user that only created a namespace
  // sits above the users of that namespace (keys pass up the chain, deepest level first).
  const key2 = new Map<string, number>();
  for (const b of layers[2]) {
    const k = meanFrom(b.node.id, 1);
    if (k !== undefined) key2.set(b.node.id, k);
  }
  const nsBoxes = layers[3];
  const nsKey = new Map<string, number>();
  const usersOfNs = new Map<string, string[]>();
  const childNs = new Map<string, string[]>();
  const creatorOf = new Map<string, string>();
  for (const e of g.edges) {
    if (e.kind === 'creator') creatorOf.set(e.from, e.to);
    if (e.kind === 'ns') (usersOfNs.get(e.to) ?? usersOfNs.set(e.to, []).get(e.to))!.push(e.from);
    if (e.kind === 'parent') (childNs.get(e.to) ?? childNs.set(e.to, []).get(e.to))!.push(e.from);
  }
  const byLevelDesc = [...nsBoxes].sort((a, b) => (b.node.level ?? 0) - (a.node.level ?? 0));
  for (const b of byLevelDesc) {
    const ks = [
      ...(usersOfNs.get(b.node.id) ?? []).map((u) => key2.get(u)),
      ...(childNs.get(b.node.id) ?? []).map((c) => nsKey.get(c)),
    ].filter((k): k is number => k !== undefined && Number.isFinite(k));
    if (ks.length) nsKey.set(b.node.id, ks.reduce((a, c) => a + c, 0) / ks.length);
    const creator = creatorOf.get(b.node.id);
    if (creator !== undefined && !key2.has(creator) && nsKey.has(b.node.id)) key2.set(creator, nsKey.get(b.node.id) as number);
  }
  place(byKey(layers[2], key2));
  // The chain: namespaces by level (root first), then under their users.
  nsBoxes.sort(
    (a, b) =>
      (a.node.level ?? 0) - (b.node.level ?? 0) ||
      (nsKey.get(a.node.id) ?? Infinity) - (nsKey.get(b.node.id) ?? Infinity) ||
      (graphOrder.get(a.node.id) as number) - (graphOrder.get(b.node.id) as number),
  );

  // Rows: wrap each layer at maxRowWidth, center every row. Tasks wrap column by column, in a
  // grid, so the tasks of one cred stand in a column above it rather than across rows.
  const rows: { boxes: Box[]; width: number; height: number; layer: number; cell?: number }[] = [];
  for (let l = 0; l < 4; l++) {
    const start = rows.length;
    let cur: Box[] = [];
    let width = 0;
    for (const b of layers[l]) {
      if (cur.length && width + GAP_X + b.w > maxRowWidth) {
        rows.push({ boxes: cur, width, height: maxOf(cur.map((x) => x.h)), layer: l });
        cur = [];
        width = 0;
      }
      width += (cur.length ? GAP_X : 0) + b.w;
      cur.push(b);
    }
    if (cur.length) rows.push({ boxes: cur, width, height: maxOf(cur.map((x) => x.h)), layer: l });
    const nRows = rows.length - start;
    if (l === 0 && nRows > 1) {
      const all = layers[0];
      const cell = maxOf(all.map((b) => b.w));
      const cols = Math.ceil(all.length / nRows);
      const grid: Box[][] = Array.from({ length: nRows }, () => []);
      all.forEach((b, i) => grid[i % nRows].push(b));
      // Rebuilt, not splice(...spread): a huge layer has more rows than a call has arguments.
      const gridRows = grid.filter((r) => r.length).map((r) => ({ boxes: r, width: cols * cell + (cols - 1) * GAP_X, height: maxOf(r.map((x) => x.h)), layer: 0, cell }));
      rows.length = start;
      for (const r of gridRows) rows.push(r);
    }
  }
  // Wide enough for the title, whatever its length; the legend wraps to the drawing's width.
  const inner = Math.max(400, maxOf(rows.map((r) => r.width)), textWidth(g.title, FONT, true));
  const width = inner + 2 * MARGIN;
  const legend = legendLines(inner);
  let y = MARGIN + 24; // below the title
  rows.forEach((r, i) => {
    if (i > 0) y += r.layer !== rows[i - 1].layer ? GAP_LAYER : GAP_ROW;
    let x = (width - r.width) / 2;
    for (const b of r.boxes) {
      b.x = r.cell === undefined ? x : x + (r.cell - b.w) / 2;
      b.y = y;
      b.row = i;
      x += (r.cell ?? b.w) + GAP_X;
    }
    y += r.height;
  });
  const height = y + MARGIN + 30 + legend.length * LEGEND_LINE_H; // room for arcs under the last row and the legend
  return { boxes, width, height, legend };
}

interface Anchor {
  x: number;
  y: number;
}

/** The SVG text of a graph (see toGraph). */
export function graphToSvg(g: ObjectGraph, options: SvgOptions = {}): string {
  const { boxes, width, height, legend } = layout(g, options.maxRowWidth ?? 2400);
  // Edge ends spread along a box's side, in the order of the other ends' x.
  type Side = 'top' | 'bottom';
  const ends = new Map<string, { edge: number; other: number }[]>();
  const sides: { from: Side; to: Side }[] = g.edges.map((e) => {
    const a = boxes.get(e.from) as Box;
    const b = boxes.get(e.to) as Box;
    if (a.row === b.row) return { from: 'bottom', to: 'bottom' };
    return a.row < b.row ? { from: 'bottom', to: 'top' } : { from: 'top', to: 'bottom' };
  });
  g.edges.forEach((e, i) => {
    const a = boxes.get(e.from) as Box;
    const b = boxes.get(e.to) as Box;
    const k1 = `${e.from}|${sides[i].from}`;
    const k2 = `${e.to}|${sides[i].to}`;
    (ends.get(k1) ?? ends.set(k1, []).get(k1))!.push({ edge: i * 2, other: b.x + b.w / 2 });
    (ends.get(k2) ?? ends.set(k2, []).get(k2))!.push({ edge: i * 2 + 1, other: a.x + a.w / 2 });
  });
  const anchor = new Map<number, Anchor>();
  for (const [key, list] of ends) {
    const [id, side] = key.split('|') as [string, Side];
    const b = boxes.get(id) as Box;
    list.sort((p, q) => p.other - q.other || p.edge - q.edge);
    list.forEach((p, j) => {
      const x = b.x + (b.w * (j + 1)) / (list.length + 1);
      anchor.set(p.edge, { x, y: side === 'top' ? b.y : b.y + b.h });
    });
  }

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${fmt(width)}" height="${fmt(height)}" viewBox="0 0 ${fmt(width)} ${fmt(height)}" font-family="monospace" font-size="${FONT}">`,
  );
  out.push(`<title>${xmlEscape(g.title)}</title>`);
  out.push('<defs>');
  const colors = [...new Set(Object.values(EDGE_COLOR))];
  for (const c of colors)
    out.push(
      `<marker id="arrow-${c.slice(1)}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${c}"/></marker>`,
    );
  out.push('</defs>');
  out.push(`<rect x="0" y="0" width="${fmt(width)}" height="${fmt(height)}" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN}" y="${MARGIN + 8}" font-weight="bold">${xmlEscape(g.title)}</text>`);

  // Edges under the boxes.
  out.push('<g class="edges" fill="none">');
  const labels: string[] = [];
  g.edges.forEach((e, i) => {
    const p = anchor.get(i * 2) as Anchor;
    const q = anchor.get(i * 2 + 1) as Anchor;
    const s = sides[i];
    let d: string;
    let mid: Anchor;
    if (s.from === 'bottom' && s.to === 'bottom') {
      const dip = 26 + Math.min(60, Math.abs(q.x - p.x) / 8);
      d = `M${fmt(p.x)},${fmt(p.y)} C${fmt(p.x)},${fmt(p.y + dip)} ${fmt(q.x)},${fmt(q.y + dip)} ${fmt(q.x)},${fmt(q.y)}`;
      mid = { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 + dip * 0.75 };
    } else {
      const dy = (q.y - p.y) / 2;
      d = `M${fmt(p.x)},${fmt(p.y)} C${fmt(p.x)},${fmt(p.y + dy)} ${fmt(q.x)},${fmt(q.y - dy)} ${fmt(q.x)},${fmt(q.y)}`;
      mid = { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 };
    }
    const color = EDGE_COLOR[e.kind];
    const dash = EDGE_DASH[e.kind] ? ` stroke-dasharray="${EDGE_DASH[e.kind]}"` : '';
    out.push(
      `<path class="edge edge-${e.kind}" data-from="${e.from}" data-to="${e.to}" d="${d}" stroke="${color}" stroke-width="${EDGE_WIDTH[e.kind] ?? 1.2}"${dash} marker-end="url(#arrow-${color.slice(1)})"><title>${xmlEscape(`${e.from} -> ${e.to}: ${e.label}`)}</title></path>`,
    );
    // Edges into group lists, users and namespaces are told by their colour and target.
    if (LABELLED.has(e.kind))
      labels.push(
      `<text x="${fmt(mid.x)}" y="${fmt(mid.y)}" text-anchor="middle" font-size="9" fill="${color}" stroke="#ffffff" stroke-width="3" paint-order="stroke">${xmlEscape(e.label)}</text>`,
    );
  });
  out.push('</g>');

  out.push('<g class="nodes">');
  for (const node of g.nodes) {
    const b = boxes.get(node.id) as Box;
    const rx = node.kind === 'task' ? 8 : 2;
    out.push(`<g class="node node-${node.kind}" id="${node.id}">`);
    out.push(`<title>${xmlEscape([node.title, ...node.lines].join('\n'))}</title>`);
    out.push(
      `<rect x="${fmt(b.x)}" y="${fmt(b.y)}" width="${fmt(b.w)}" height="${fmt(b.h)}" rx="${rx}" fill="${FILL[node.kind]}" stroke="${STROKE[node.kind]}" stroke-width="${node.kind === 'user_ns' ? 2 : 1}"/>`,
    );
    b.lines.forEach((l, j) => {
      const weight = j === 0 ? ' font-weight="bold"' : '';
      out.push(`<text x="${fmt(b.x + PAD_X)}" y="${fmt(b.y + PAD_Y + (j + 1) * LINE_H - 3)}"${weight} xml:space="preserve">${xmlEscape(l)}</text>`);
    });
    out.push('</g>');
  }
  out.push('</g>');
  out.push('<g class="edge-labels">');
  for (const l of labels) out.push(l);
  out.push('</g>');
  legend.forEach((line, i) =>
    out.push(
      `<text class="legend" x="${MARGIN}" y="${fmt(height - MARGIN / 2 - (legend.length - 1 - i) * LEGEND_LINE_H)}" font-size="${LEGEND_FONT}" fill="#5f6368">${xmlEscape(line)}</text>`,
    ),
  );
  out.push('</svg>');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${out.join('\n')}\n`;
}

/** The SVG text of an image's object graph. `objrefs`: the decoder's details, when known. */
export function renderSvg(image: Image, objrefs?: Map<object, number>, options?: SvgOptions): string {
  return graphToSvg(toGraph(image, objrefs, options), options);
}
