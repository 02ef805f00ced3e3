// `inspect --svg`: nothing drawn past the right edge. The legend wraps to the drawing's width,
// and the page is as wide as the title, however long (a small image drew a page narrower than
// its own legend, which was cut off).
import { ImageBuilder } from '../../lib/format';
import { graphToSvg, toGraph } from '../../lib/inspect';
import { chainImage, decoded } from './helpers';

const CHAR_W_AT_11 = 6.7; // the renderer's monospace advance at 11 px

/** Each <text> that starts at x: its right end, from its length and font size. */
function textEnds(svg: string): { text: string; end: number }[] {
  const out: { text: string; end: number }[] = [];
  for (const m of svg.matchAll(/<text x="([\d.]+)" y="[\d.]+"([^>]*)>([^<]*)<\/text>/g)) {
    if (/text-anchor="middle"/.test(m[2])) continue;
    const size = Number(/font-size="(\d+)"/.exec(m[2])?.[1] ?? 11);
    const bold = /font-weight="bold"/.test(m[2]) ? 1.1 : 1;
    const text = m[3].replace(/&[a-z]+;/g, 'x');
    out.push({ text, end: Number(m[1]) + text.length * CHAR_W_AT_11 * (size / 11) * bold });
  }
  for (const m of svg.matchAll(/<text class="legend" x="([\d.]+)"[^>]*font-size="(\d+)"[^>]*>([^<]*)<\/text>/g))
    out.push({ text: m[3], end: Number(m[1]) + m[3].length * CHAR_W_AT_11 * (Number(m[2]) / 11) });
  return out;
}

function width(svg: string): number {
  return Number(/<svg [^>]*width="([\d.]+)"/.exec(svg)?.[1]);
}

test.each([
  ['one task', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 0 }));
    return b.build();
  }],
  ['the chain image', () => decoded(chainImage()).image],
])('%s: every text ends inside the page, the whole legend is there', (_name, make) => {
  const graph = toGraph(make());
  const svg = graphToSvg(graph);
  const w = width(svg);
  const ends = textEnds(svg);
  expect(ends.length).toBeGreaterThan(2);
  for (const t of ends) expect({ text: t.text, over: t.end > w }).toEqual({ text: t.text, over: false });
  const legend = [...svg.matchAll(/<text class="legend"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]).join('; ');
  for (const item of ['thick: real = effective cred', 'dashed: effective', 'green: groups', 'red: user', 'purple: ns', 'dotted: creator'])
    expect(legend).toContain(item);
});

test('a long title widens the page rather than being cut', () => {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 0 }));
  const graph = { ...toGraph(b.build()), title: 'x'.repeat(300) };
  const svg = graphToSvg(graph);
  expect(width(svg)).toBeGreaterThan(300 * CHAR_W_AT_11);
  for (const t of textEnds(svg)) expect(t.end).toBeLessThanOrEqual(width(svg));
});
