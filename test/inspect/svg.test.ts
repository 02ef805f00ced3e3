// `inspect --svg`: the built-in renderer's SVG is well-formed, self-contained and shows every task.
import { ImageBuilder } from '../../lib/format';
import { graphToSvg, renderSvg, toGraph, xmlEscape } from '../../lib/inspect';
import { chainImage, checkWellFormedXml, decoded } from './helpers';

function boxes(svg: string): Map<string, { x: number; y: number; w: number; h: number }> {
  const out = new Map<string, { x: number; y: number; w: number; h: number }>();
  const re = /<g class="node node-[a-z_]+" id="([^"]+)">\n<title>[^<]*<\/title>\n<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/g;
  for (const m of svg.matchAll(re)) out.set(m[1], { x: Number(m[2]), y: Number(m[3]), w: Number(m[4]), h: Number(m[5]) });
  return out;
}

test('the checker itself refuses what is not well-formed', () => {
  expect(() => checkWellFormedXml('<svg><g></svg></g>')).toThrow(/closes/);
  expect(() => checkWellFormedXml('<svg><text>a < b</text></svg>')).toThrow(/stray/);
  expect(() => checkWellFormedXml('<svg><text>a & b</text></svg>')).toThrow(/bare '&'/);
  expect(() => checkWellFormedXml('<svg x="1"/><svg/>')).toThrow(/2 root/);
  expect(() => checkWellFormedXml('<svg><g>')).toThrow(/unclosed/);
  expect(checkWellFormedXml('<?xml version="1.0"?>\n<svg a="&amp;"><t>&lt;x&gt;</t><r/></svg>\n')).toEqual(['svg', 't', 'r']);
});

describe('the chain image', () => {
  const { image, objrefs } = decoded(chainImage());
  const svg = renderSvg(image, objrefs);
  const names = checkWellFormedXml(svg);
  const graph = toGraph(image, objrefs);

  test('well-formed, one <svg> root in the SVG namespace, nothing external', () => {
    expect(names[0]).toBe('svg');
    expect(svg).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="\d+(\.\d)?" height="\d+(\.\d)?"/);
    expect(svg).not.toMatch(/href=|<image|<script|@import|url\((?!#)/);
  });

  test('every task, every object: a box each, with its label', () => {
    const b = boxes(svg);
    expect([...b.keys()].sort()).toEqual(graph.nodes.map((n) => n.id).sort());
    image.tasks.forEach((t, i) => {
      expect(b.has(`task_${i}`)).toBe(true);
      expect(svg).toContain(`>task ${i}: pid ${t.pids.vpid}</text>`);
    });
    expect(svg).toContain('>securebits NOROOT,NO_SETUID_FIXUP,KEEP_CAPS</text>');
    expect(svg).toContain('>uid_map 0 1000 1</text>');
    expect(svg).toContain(">level 0 (root: the restarter&apos;s), objref ");
  });

  test('layers top to bottom: tasks, creds, users and groups, namespaces; namespaces by level', () => {
    const b = boxes(svg);
    const top = (kind: string) => Math.min(...graph.nodes.filter((n) => n.kind === kind).map((n) => b.get(n.id)!.y));
    const bottom = (kind: string) => Math.max(...graph.nodes.filter((n) => n.kind === kind).map((n) => b.get(n.id)!.y + b.get(n.id)!.h));
    expect(bottom('task')).toBeLessThan(top('cred'));
    expect(bottom('cred')).toBeLessThan(Math.min(top('user'), top('groupinfo')));
    expect(Math.max(bottom('user'), bottom('groupinfo'))).toBeLessThan(top('user_ns'));
    const ns = graph.nodes.filter((n) => n.kind === 'user_ns').sort((p, q) => b.get(p.id)!.x - b.get(q.id)!.x);
    expect(ns.map((n) => n.level)).toEqual([0, 1, 2]);
    // No two boxes overlap.
    const all = [...b.values()];
    for (let i = 0; i < all.length; i++)
      for (let j = i + 1; j < all.length; j++) {
        const p = all[i];
        const q = all[j];
        expect(p.x + p.w <= q.x || q.x + q.w <= p.x || p.y + p.h <= q.y || q.y + q.h <= p.y).toBe(true);
      }
  });

  test('one path per edge, from and to the right boxes; deterministic', () => {
    const paths = [...svg.matchAll(/<path class="edge edge-([a-z+]+)" data-from="([^"]+)" data-to="([^"]+)"/g)].map((m) => `${m[2]} ${m[1]} ${m[3]}`);
    expect(paths).toEqual(graph.edges.map((e) => `${e.from} ${e.kind} ${e.to}`));
    const again = decoded(chainImage());
    expect(renderSvg(again.image, again.objrefs)).toBe(svg);
  });
});

test('xmlEscape: the five specials, characters XML forbids, lone surrogates', () => {
  expect(xmlEscape(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  expect(xmlEscape('nul\u0000 bell\u0007 tab\t nl\n')).toBe('nul\ufffd bell\ufffd tab\t nl\n');
  expect(xmlEscape('\udc00 ok \ud83d\ude00')).toBe('\ufffd ok \ud83d\ude00');
});

test('hostile label text stays text', () => {
  const g = toGraph(chainImage());
  g.title = '</title><script>alert(1)</script> & ]]>';
  g.nodes[0].lines.push('<g onload="x">&amp;\u0001');
  const svg = graphToSvg(g);
  checkWellFormedXml(svg);
  expect(svg).not.toContain('<script');
  expect(svg).toContain('&lt;/title&gt;&lt;script&gt;');
});

test('a huge image: collapsed to a readable picture that still accounts for every task', () => {
  const b = new ImageBuilder({ header: { time: 0n } });
  const ns = b.namespace(b.user(1000), { uidMap: [{ inside: 0, outside: 1000, count: 1 }] });
  const creds = Array.from({ length: 6 }, (_, k) => b.cred({ uid: k, user: b.user(k, k % 2 ? ns : b.rootNs) }));
  for (let i = 0; i < 5000; i++) b.task(creds[i % 6], { pids: { vpid: 1000 + i } });
  const { image, objrefs } = decoded(b.build());
  const svg = renderSvg(image, objrefs);
  checkWellFormedXml(svg);
  const counts = [...svg.matchAll(/>(\d+) tasks \(collapsed: identical creds\)</g)].map((m) => Number(m[1]));
  expect(counts).toHaveLength(6);
  expect(counts.reduce((a, c) => a + c, 0)).toBe(5000);
  expect(svg.length).toBeLessThan(100_000);
});

test('~50 distinct tasks, uncollapsed: every task drawn, wide layers wrap, still well-formed', () => {
  const b = new ImageBuilder({ header: { time: 0n } });
  const creds = Array.from({ length: 12 }, (_, k) => b.cred({ uid: 1000 + k, groups: [k % 3] }));
  for (let i = 0; i < 50; i++) b.task(creds[(i * 7) % 12], { pids: { vpid: 100 + i } });
  const { image, objrefs } = decoded(b.build());
  const svg = renderSvg(image, objrefs, { maxRowWidth: 1200 });
  checkWellFormedXml(svg);
  const bx = boxes(svg);
  for (let i = 0; i < 50; i++) expect(bx.has(`task_${i}`)).toBe(true);
  const width = Number(/<svg [^>]*width="([\d.]+)"/.exec(svg)![1]);
  for (const v of bx.values()) expect(v.x + v.w).toBeLessThanOrEqual(width);
  expect(new Set([...bx].filter(([id]) => id.startsWith('task_')).map(([, v]) => v.y)).size).toBeGreaterThan(1);
});
