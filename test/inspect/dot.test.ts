// `inspect --dot`: the object graph as Graphviz DOT, read back line by line.
import { spawnSync } from 'child_process';
import { ImageBuilder } from '../../lib/format';
import { GRAPH_CHAIN_HEAD, GRAPH_CHAIN_TAIL, capShort, dotEscape, graphToDot, renderDot, toGraph } from '../../lib/inspect';
import { chainImage, decoded, parseDot } from './helpers';

const haveDot = spawnSync('dot', ['-V'], { encoding: 'utf8' }).error === undefined;

describe('the chain image (2 tasks sharing a cred, 3-level namespace chain)', () => {
  const { image, objrefs } = decoded(chainImage());
  const text = renderDot(image, objrefs);
  const { nodes, edges, ranks } = parseDot(text);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const ofKind = (prefix: string) => nodes.filter((n) => n.id.startsWith(prefix));
  const edgesFrom = (id: string) => edges.filter((e) => e.from === id);
  const one = <T>(xs: T[]): T => {
    expect(xs).toHaveLength(1);
    return xs[0];
  };

  test('each object once: node ids unique, one node per objref of the image', () => {
    expect(new Set(nodes.map((n) => n.id)).size).toBe(nodes.length);
    expect(ofKind('task_')).toHaveLength(3);
    expect(ofKind('cred_')).toHaveLength(2);
    expect(ofKind('groups_')).toHaveLength(1);
    expect(ofKind('userns_')).toHaveLength(3);
    // users: uid 0 of ns2 (the cred's), uid 0 of ns1 (ns2's creator), uid 1000 of root (ns1's creator, and task 2's)
    expect(ofKind('user_')).toHaveLength(3);
    const objectIds = nodes.filter((n) => !n.id.startsWith('task_')).map((n) => Number(n.id.replace(/^\D+/, '')));
    expect(objectIds.sort((a, b) => a - b)).toEqual([...new Set(objrefs.values())].sort((a, b) => a - b));
    // The label names the objref the id carries.
    for (const n of nodes.filter((x) => !x.id.startsWith('task_')))
      expect(n.lines.join('\n')).toContain(`objref ${n.id.replace(/^\D+/, '')}`);
  });

  test('every edge joins declared nodes; ranks: tasks, creds, users+groups, namespaces', () => {
    for (const e of edges) {
      expect(byId.has(e.from)).toBe(true);
      expect(byId.has(e.to)).toBe(true);
    }
    expect(new Set(edges.map((e) => `${e.from}>${e.to}>${e.label}`)).size).toBe(edges.length);
    expect(ranks.map((r) => [...new Set(r.map((id) => id.replace(/_\d+$/, '')))].sort())).toEqual([['task'], ['cred'], ['groups', 'user'], ['userns']]);
  });

  test('tasks: the shared cred has two "real = effective" edges; task 2 real and effective apart', () => {
    const shared = objrefs.get(image.tasks[0].cred) as number;
    expect(image.tasks[1].cred).toBe(image.tasks[0].cred);
    expect(edgesFrom('task_0')).toEqual([expect.objectContaining({ to: `cred_${shared}`, label: 'real = effective' })]);
    expect(edgesFrom('task_1')).toEqual([expect.objectContaining({ to: `cred_${shared}`, label: 'real = effective' })]);
    const own = objrefs.get(image.tasks[2].cred) as number;
    expect(edgesFrom('task_2').map((e) => [e.label, e.to])).toEqual([
      ['real', `cred_${own}`],
      ['effective', `cred_${shared}`],
    ]);
    expect(edges.filter((e) => e.to === `cred_${shared}`)).toHaveLength(3);
    expect(byId.get('task_2')!.lines).toEqual(['task 2: pid 12', 'ppid 10 depth 1', 'no_new_privs']);
  });

  test('creds point at their groups and user; users at their namespace; the chain by creator and parent', () => {
    const sharedCred = image.tasks[0].cred;
    const c = `cred_${objrefs.get(sharedCred)}`;
    const g = `groups_${objrefs.get(sharedCred.groups)}`;
    const u = `user_${objrefs.get(sharedCred.user)}`;
    expect(edgesFrom(c).map((e) => [e.label, e.to])).toEqual([
      ['groups', g],
      ['user', u],
    ]);
    // Both creds share the one group list.
    expect(edges.filter((e) => e.to === g).map((e) => e.from).sort()).toEqual(ofKind('cred_').map((n) => n.id).sort());
    // Walk up from the cred's user: user -ns-> ns2 -creator-> user -ns-> ns1 -creator-> user -ns-> root.
    const levels: string[] = [];
    let user = u;
    for (;;) {
      const ns = one(edgesFrom(user).filter((e) => e.label === 'ns')).to;
      levels.push(byId.get(ns)!.lines[1]);
      const creator = edgesFrom(ns).filter((e) => e.label === 'creator');
      const parent = edgesFrom(ns).filter((e) => e.label === 'parent');
      if (creator.length === 0) {
        expect(parent).toHaveLength(0);
        break;
      }
      user = one(creator).to;
      const parentNs = one(edgesFrom(user).filter((e) => e.label === 'ns')).to;
      expect(one(parent).to).toBe(parentNs);
    }
    expect(levels).toEqual([
      expect.stringMatching(/^level 2, objref \d+$/),
      expect.stringMatching(/^level 1, objref \d+$/),
      expect.stringMatching(/^level 0 \(root: the restarter's\), objref \d+$/),
    ]);
    expect(edges.filter((e) => e.label === 'creator')).toHaveLength(2);
    expect(edges.filter((e) => e.label === 'parent')).toHaveLength(2);
  });

  test('labels: ids, caps in short form, securebits by name, namespace maps', () => {
    const shared = byId.get(`cred_${objrefs.get(image.tasks[0].cred)}`)!;
    expect(shared.lines).toEqual([
      expect.stringMatching(/^cred \(objref \d+\)$/),
      'uid 0/0/0/0',
      'gid 0/0/0/0',
      'cap prm all(0..40)',
      'cap eff all(0..40)',
      'cap inh -',
      'cap bnd all(0..40)',
      'securebits NOROOT,NO_SETUID_FIXUP,KEEP_CAPS',
    ]);
    const own = byId.get(`cred_${objrefs.get(image.tasks[2].cred)}`)!;
    expect(own.lines.slice(1)).toEqual([
      'uid 1000/1001/1000/1000',
      'gid 100/100/100/100',
      'cap prm chown,dac_override',
      'cap eff -',
      'cap inh chown',
      'cap bnd -',
      'cap amb chown',
      'securebits unknown',
    ]);
    const ns1 = ofKind('userns_').find((n) => n.lines[1].startsWith('level 1'))!;
    expect(ns1.lines).toEqual([expect.stringMatching(/^user_ns ns1$/), expect.any(String), 'uid_map 0 1000 1', 'gid_map 0 1000 1', 'setgroups deny']);
    expect(byId.get(`groups_${objrefs.get(image.tasks[0].cred.groups)}`)!.lines[0]).toBe('groups 4,100');
  });

  test('deterministic: the same bytes give the same text, decoded twice', () => {
    const again = decoded(chainImage());
    expect(renderDot(again.image, again.objrefs)).toBe(text);
  });

  test('an image without decoder details: numbered in first-use order, same shape', () => {
    const fresh = parseDot(renderDot(chainImage()));
    const shape = (p: typeof fresh) => p.edges.map((e) => `${e.from} ${e.label} ${e.to}`);
    // The encoder writes objects in first-use order too, so the numbers agree with the objrefs.
    expect(shape(fresh)).toEqual(shape({ nodes, edges, ranks }));
    expect(fresh.nodes.some((n) => n.lines.join(' ').includes('objref'))).toBe(false);
  });

  test('Graphviz accepts it (dot -Tsvg), where dot is installed', () => {
    // CI installs Graphviz (.ci/run): there the check must run.
    if (!haveDot && process.env.CI === 'true') throw new Error('Graphviz `dot` is not installed, and CI runs this check');
    if (!haveDot) {
      process.stdout.write('dot.test: Graphviz `dot` is not installed; the dot -Tsvg check is skipped\n');
      return;
    }
    const r = spawnSync('dot', ['-Tsvg'], { input: text, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('<svg');
    for (const n of nodes) expect(r.stdout).toContain(`<title>${n.id}</title>`);
  });
});

test('dotEscape: quotes, backslashes (no Graphviz escapes smuggled in), controls, lone surrogates', () => {
  expect(dotEscape('a"b')).toBe('a\\"b');
  expect(dotEscape('x\\ly\\N')).toBe('x\\\\ly\\\\N');
  expect(dotEscape('tab\there\n')).toBe('tab\\\\x09here\\\\x0a');
  expect(dotEscape('bad \ud800 pair \ud83d\ude00')).toBe('bad \ufffd pair \ud83d\ude00');
  const g = toGraph(chainImage());
  g.title = 'evil" ]; x -> y; "\\';
  g.nodes[0].lines.push('"}\n{');
  const parsed = parseDot(graphToDot(g));
  expect(parsed.nodes[0].lines.at(-1)).toBe('"}\\x0a{');
  if (haveDot) expect(spawnSync('dot', ['-Tsvg'], { input: graphToDot(g), encoding: 'utf8' }).status).toBe(0);
});

test('capShort', () => {
  expect(capShort(0n)).toBe('-');
  expect(capShort((1n << 41n) - 1n)).toBe('all(0..40)');
  expect(capShort(((1n << 41n) - 1n) & ~(1n << 21n))).toBe('all(0..40)-sys_admin');
  expect(capShort(0xc0n)).toBe('setgid,setuid');
  expect(capShort(0x3fn)).toBe('6 caps 0x3f');
});

describe('collapsing tasks with identical creds', () => {
  function many(n: number): ReturnType<typeof decoded> {
    const b = new ImageBuilder({ header: { time: 0n } });
    const creds = [b.cred({ uid: 0 }), b.cred({ uid: 1000 }), b.cred({ uid: 1001 })];
    for (let i = 0; i < n; i++) b.task(creds[i % 3], { pids: { vpid: 100 + i }, noNewPrivs: i === 5 });
    return decoded(b.build());
  }

  test('above 50 tasks (auto): one node per (real, effective, no_new_privs), with a count', () => {
    const { image, objrefs } = many(200);
    const g = toGraph(image, objrefs);
    expect(g.collapsed).toBe(true);
    const { nodes, edges } = parseDot(renderDot(image, objrefs));
    const tasks = nodes.filter((n) => n.id.startsWith('task_'));
    expect(tasks).toHaveLength(4);
    const counts = tasks.map((t) => Number(/^(\d+) tasks \(collapsed: identical creds\)$/.exec(t.lines[0])?.[1] ?? (t.lines[0].startsWith('task ') ? 1 : NaN)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(200);
    expect(counts).toEqual([67, 67, 65, 1]);
    expect(tasks[0].lines[1]).toBe('pids 100,103,106,109,112,115,… (67 in all)');
    expect(nodes.filter((n) => n.id.startsWith('cred_'))).toHaveLength(3);
    expect(edges.filter((e) => e.from.startsWith('task_'))).toHaveLength(4);
    expect(g.title).toContain('200 tasks, tasks with identical creds collapsed (4 nodes)');
  });

  test('never / always, and the threshold', () => {
    const { image, objrefs } = many(60);
    expect(parseDot(renderDot(image, objrefs, { collapse: false })).nodes.filter((n) => n.id.startsWith('task_'))).toHaveLength(60);
    expect(toGraph(image, objrefs, { collapseAbove: 60 }).collapsed).toBe(false);
    const small = decoded(chainImage());
    expect(toGraph(small.image, small.objrefs).collapsed).toBe(false);
    const forced = toGraph(small.image, small.objrefs, { collapse: true });
    expect(forced.nodes.filter((n) => n.kind === 'task').map((n) => n.tasks)).toEqual([[0, 1], [2]]);
  });
});

test('a deep namespace chain (3000 levels) does not exhaust the stack, and is drawn by its ends', () => {
  const b = new ImageBuilder();
  let ns = b.rootNs;
  for (let i = 0; i < 3000; i++) ns = b.namespace(b.user(i, ns));
  b.task(b.cred({ uid: 0, user: b.user(0, ns) }));
  const g = toGraph(b.build());
  const nss = g.nodes.filter((n) => n.kind === 'user_ns');
  // Levels 0..HEAD, one node for the run between, and the TAIL levels above the cred's namespace.
  expect(nss).toHaveLength(GRAPH_CHAIN_HEAD + 1 + 1 + GRAPH_CHAIN_TAIL + 1);
  const gap = nss.filter((n) => n.id.startsWith('userns_gap_'));
  expect(gap).toHaveLength(1);
  const skipped = 3000 - GRAPH_CHAIN_TAIL - GRAPH_CHAIN_HEAD - 1;
  expect(gap[0].title).toBe(`… ${skipped} user namespaces …`);
  expect(gap[0].lines).toEqual([`levels ${GRAPH_CHAIN_HEAD + 1}..${3000 - GRAPH_CHAIN_TAIL - 1}, not drawn`]);
  // Still one connected chain: every drawn namespace but the root has its parent edge.
  expect(g.edges.filter((e) => e.kind === 'parent')).toHaveLength(nss.length - 1);
  const deepest = nss.find((n) => n.level === 3000)!;
  expect(deepest).toBeDefined();
  // The namespace right under the gap says who created it, since its creator is not drawn.
  const belowGap = nss.find((n) => n.level === 3000 - GRAPH_CHAIN_TAIL)!;
  expect(belowGap.lines).toContain(`created by uid ${3000 - GRAPH_CHAIN_TAIL - 1} of a namespace not drawn`);
});

test('a chain within the bounds is drawn whole', () => {
  const b = new ImageBuilder();
  let ns = b.rootNs;
  const depth = GRAPH_CHAIN_HEAD + GRAPH_CHAIN_TAIL + 1;
  for (let i = 0; i < depth; i++) ns = b.namespace(b.user(i, ns));
  b.task(b.cred({ uid: 0, user: b.user(0, ns) }));
  const g = toGraph(b.build());
  expect(g.nodes.filter((n) => n.kind === 'user_ns')).toHaveLength(depth + 1);
  expect(g.edges.filter((e) => e.kind === 'parent')).toHaveLength(depth);
});
