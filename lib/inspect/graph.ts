// The object graph of an image, for `inspect --dot` / `--svg`: tasks, their creds, the group
// lists and users the creds point at, and the user-namespace chain. Every shared object is one
// node, keyed by its objref (the decoder's details), so a cred two tasks share is drawn once.
//
// The model is plain data with a stable order (tasks in image order, objects by objref), so the
// renderers (dot.ts, svg.ts) are deterministic.
import { capNames, fullCapSet, securebitNames } from '../model/capabilities';
import type { CapSet, Cred, GroupInfo, IdMapExtent, User, UserNamespace } from '../model/types';
import { ARCH_NAMES } from '../format/constants';
import type { Image } from '../format/types';
import { collectNamespaces } from './namespaces';

export type GraphNodeKind = 'task' | 'cred' | 'groupinfo' | 'user' | 'user_ns';

/**
 * real / effective: task -> its real or effective cred ('real+effective': one object for both);
 * groups, user: cred -> its group list / user; ns: user -> its namespace;
 * creator: namespace -> the user that created it; parent: namespace -> its parent namespace.
 */
export type GraphEdgeKind = 'real' | 'effective' | 'real+effective' | 'groups' | 'user' | 'ns' | 'creator' | 'parent';

export interface GraphNode {
  /** A DOT/SVG-safe id: task0, cred5, ... (objects: their objref, or a number in first-use order). */
  id: string;
  kind: GraphNodeKind;
  /** The object's objref in the image; null for tasks and when the objrefs are unknown. */
  objref: number | null;
  /** First line of the label. */
  title: string;
  /** Further label lines. */
  lines: string[];
  /** Tasks only: the image's task indices this node stands for (more than one when collapsed). */
  tasks?: number[];
  /** user_ns only: its level (root = 0). */
  level?: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: GraphEdgeKind;
  /** The edge's label, e.g. "real", "effective", "real = effective". */
  label: string;
}

export interface ObjectGraph {
  /** One line about the image (arch, kernel, task count). */
  title: string;
  /** Nodes by kind (task, cred, groupinfo, user, user_ns), each kind in a stable order. */
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Tasks in the image. */
  taskCount: number;
  /** Whether tasks with identical creds were collapsed into one node each. */
  collapsed: boolean;
}

export interface GraphOptions {
  /**
   * Collapse tasks with the same real and effective cred (and no_new_privs) into one node with a
   * count: true, false, or 'auto' (default): when the image has more than `collapseAbove` tasks.
   */
  collapse?: boolean | 'auto';
  /** The 'auto' threshold (default 50). */
  collapseAbove?: number;
}

export const DEFAULT_COLLAPSE_ABOVE = 50;

/**
 * A namespace chain deeper than a picture can show is drawn by its ends: the first
 * GRAPH_CHAIN_HEAD levels below the root, and the GRAPH_CHAIN_TAIL levels above each namespace
 * a cred's user lives in; each run between is one node ("... N user namespaces ...").
 */
export const GRAPH_CHAIN_HEAD = 8;
export const GRAPH_CHAIN_TAIL = 8;

const KIND_ORDER: Record<GraphNodeKind, number> = { task: 0, cred: 1, groupinfo: 2, user: 3, user_ns: 4 };

/** A capability set in a few words: "-", "all(0..40)", "all-sys_admin", "chown,kill", "12 caps 0x..". */
export function capShort(set: CapSet): string {
  if (set === 0n) return '-';
  const top = set.toString(2).length - 1;
  const names = capNames(set).map((n) => n.replace(/^CAP_/, '').toLowerCase());
  if (top >= 32) {
    const full = fullCapSet(top);
    const missing = capNames(full & ~set).map((n) => n.replace(/^CAP_/, '').toLowerCase());
    if (missing.length === 0) return `all(0..${top})`;
    if (missing.length <= 3) return `all(0..${top})-${missing.join(',')}`;
  }
  if (names.length <= 4) return names.join(',');
  return `${names.length} caps 0x${set.toString(16)}`;
}

/** Securebits by name without the SECBIT_ prefix: "-", "unknown", "NOROOT,KEEP_CAPS". */
export function securebitsShort(bits: number | null): string {
  if (bits === null) return 'unknown';
  if (bits === 0) return '-';
  return securebitNames(bits)
    .map((n) => n.replace(/^SECBIT_/, ''))
    .join(',');
}

/** Pids listed on a collapsed task node. */
const PIDS_SHOWN = 6;

function list(values: readonly number[], max: number): string {
  if (values.length === 0) return '(none)';
  if (values.length <= max) return values.join(',');
  return `${values.slice(0, max).join(',')},… (${values.length} in all)`;
}

function mapText(m: readonly IdMapExtent[], max = 4): string {
  if (m.length === 0) return '(empty)';
  const shown = m.slice(0, max).map((e) => `${e.inside} ${e.outside} ${e.count}`);
  return m.length > max ? `${shown.join('; ')}; … (${m.length} extents)` : shown.join('; ');
}

/**
 * Objrefs for an image's objects in the order an encoder would first write them (per task: real
 * then effective cred; for each, its group list, its user's namespace chain outermost first with
 * the creator users, its user, the cred). Used when the image came without decoder details.
 */
function firstUseNumbers(image: Image): Map<object, number> {
  const ids = new Map<object, number>();
  let next = 1;
  const give = (o: object) => {
    if (!ids.has(o)) ids.set(o, next++);
  };
  const visitNs = (start: UserNamespace) => {
    const chain: UserNamespace[] = [];
    const onChain = new Set<UserNamespace>();
    for (let n: UserNamespace | undefined = start; n && !ids.has(n) && !onChain.has(n); n = n.creator?.ns) {
      chain.push(n);
      onChain.add(n);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const c = chain[i].creator;
      if (c) give(c);
      give(chain[i]);
    }
  };
  const visitCred = (c: Cred) => {
    if (ids.has(c)) return;
    give(c.groups);
    visitNs(c.user.ns);
    give(c.user);
    give(c);
  };
  for (const t of image.tasks) {
    visitCred(t.cred);
    visitCred(t.ecred);
  }
  return ids;
}

function credLines(c: Cred): string[] {
  const k = c.caps;
  const lines = [
    `uid ${c.uid}/${c.euid}/${c.suid}/${c.fsuid}`,
    `gid ${c.gid}/${c.egid}/${c.sgid}/${c.fsgid}`,
    `cap prm ${capShort(k.permitted)}`,
    `cap eff ${capShort(k.effective)}`,
    `cap inh ${capShort(k.inheritable)}`,
    `cap bnd ${capShort(k.bounding)}`,
  ];
  if (k.ambient !== 0n) lines.push(`cap amb ${capShort(k.ambient)}`);
  lines.push(`securebits ${securebitsShort(c.securebits)}`);
  if (c.secRef !== undefined) lines.push(`sec_ref ${c.secRef}`);
  return lines;
}

/** The image's object graph. `objrefs`: the decoder's details (decodeDetailed, readImageDetailed). */
export function toGraph(image: Image, objrefs?: Map<object, number>, options: GraphOptions = {}): ObjectGraph {
  const known = objrefs !== undefined && objrefs.size > 0;
  const synthetic = known ? undefined : firstUseNumbers(image);
  // Objects the decoder did not number (none, for a decoded image) take numbers after its largest
  // (a loop, not Math.max(...spread): a big image has more objects than a call has arguments).
  let extra = 0;
  if (known) for (const r of objrefs.values()) if (r > extra) extra = r;
  const numberOf = new Map<object, number>();
  const num = (o: object): number => {
    let n = numberOf.get(o);
    if (n === undefined) {
      n = synthetic ? (synthetic.get(o) as number) : (objrefs!.get(o) ?? ++extra);
      numberOf.set(o, n);
    }
    return n;
  };
  const realRef = (o: object): number | null => (known ? (objrefs.get(o) ?? null) : null);
  const refText = (o: object) => {
    const r = realRef(o);
    return r === null ? '' : `objref ${r}`;
  };

  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  const edgeKeys = new Set<string>();
  const edge = (from: string, to: string, kind: GraphEdgeKind, label: string = kind) => {
    const key = `${from}\0${to}\0${kind}`;
    if (edgeKeys.has(key)) return;
    edgeKeys.add(key);
    edges.push({ from, to, kind, label });
  };
  const nss = collectNamespaces(image, objrefs);
  const nsLevel = new Map<UserNamespace, number>(nss.map((e) => [e.ns, e.depth]));
  const nsName = new Map<UserNamespace, string>(nss.map((e) => [e.ns, `ns${e.index}`]));

  // Which namespaces are drawn (GRAPH_CHAIN_HEAD / GRAPH_CHAIN_TAIL): the top levels, and the
  // levels above every namespace a cred's user lives in. `budget` keeps the most levels still
  // to mark from each namespace, so every walk stops where an earlier one went further.
  const budget = new Map<UserNamespace, number>();
  const markAbove = (start: UserNamespace): void => {
    let left = GRAPH_CHAIN_TAIL;
    for (let x: UserNamespace | undefined = start; x && left > (budget.get(x) ?? -1); x = x.creator?.ns, left--) budget.set(x, left);
  };
  const drawn = (ns: UserNamespace): boolean => (nsLevel.get(ns) ?? 0) <= GRAPH_CHAIN_HEAD || budget.has(ns);
  for (const t of image.tasks) {
    markAbove(t.cred.user.ns);
    markAbove(t.ecred.user.ns);
  }
  // A namespace not drawn: the nearest drawn one above it, found once per namespace.
  const drawnAbove = new Map<UserNamespace, UserNamespace | null>();
  const nearestDrawn = (start: UserNamespace): UserNamespace | null => {
    const path: UserNamespace[] = [];
    let found: UserNamespace | null = null;
    for (let x: UserNamespace | undefined = start; x; x = x.creator?.ns) {
      if (drawn(x)) {
        found = x;
        break;
      }
      const known = drawnAbove.get(x);
      if (known !== undefined) {
        found = known;
        break;
      }
      path.push(x);
    }
    for (const x of path) drawnAbove.set(x, found);
    return found;
  };

  // Iterative over the chain (a crafted image may nest deeply): ancestors first, top-down.
  const visited = new Set<UserNamespace>();
  const nsNode = (start: UserNamespace): string => {
    const chain: UserNamespace[] = [];
    for (let x: UserNamespace | undefined = start; x && !visited.has(x); x = x.creator?.ns) {
      visited.add(x);
      if (drawn(x)) chain.push(x);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const ns = chain[i];
      const id = `userns_${num(ns)}`;
      const level = nsLevel.get(ns) ?? 0;
      const lines: string[] = [];
      const ref = refText(ns);
      lines.push(ns.creator ? `level ${level}${ref ? `, ${ref}` : ''}` : `level 0 (root: the restarter's)${ref ? `, ${ref}` : ''}`);
      const parent = ns.creator?.ns;
      const hiddenParent = parent !== undefined && !drawn(parent);
      if (hiddenParent) lines.push(`created by uid ${ns.creator!.uid} of a namespace not drawn`);
      if (ns.uidMap) lines.push(`uid_map ${mapText(ns.uidMap)}`);
      if (ns.gidMap) lines.push(`gid_map ${mapText(ns.gidMap)}`);
      if (ns.setgroups) lines.push(`setgroups ${ns.setgroups}`);
      if (ns.inode !== undefined) lines.push(`inode ${ns.inode}`);
      nodes.set(id, { id, kind: 'user_ns', objref: realRef(ns), title: `user_ns ${nsName.get(ns) ?? ''}`.trimEnd(), lines, level });
      if (ns.creator && !hiddenParent) {
        edge(id, userNode(ns.creator), 'creator');
        edge(id, `userns_${num(ns.creator.ns)}`, 'parent');
      } else if (ns.creator) {
        edge(id, gapNode(ns.creator.ns), 'parent');
      }
    }
    return `userns_${num(start)}`;
  };
  // One node for the run of namespaces not drawn from `bottom` up to the nearest drawn one.
  const gapNode = (bottom: UserNamespace): string => {
    const id = `userns_gap_${num(bottom)}`;
    if (nodes.has(id)) return id;
    const top = nearestDrawn(bottom);
    const to = nsLevel.get(bottom) ?? 0;
    const from = top ? (nsLevel.get(top) ?? 0) + 1 : 0;
    const n = to - from + 1;
    nodes.set(id, {
      id,
      kind: 'user_ns',
      objref: null,
      title: `… ${n} user namespace${n === 1 ? '' : 's'} …`,
      lines: [`levels ${from}..${to}, not drawn`],
      level: from,
    });
    if (top) edge(id, nsNode(top), 'parent');
    return id;
  };
  const userNode = (u: User): string => {
    const id = `user_${num(u)}`;
    if (nodes.has(id)) return id;
    const ref = refText(u);
    nodes.set(id, { id, kind: 'user', objref: realRef(u), title: `user uid ${u.uid}`, lines: ref ? [ref] : [] });
    edge(id, nsNode(u.ns), 'ns');
    return id;
  };
  const groupsNode = (g: GroupInfo): string => {
    const id = `groups_${num(g)}`;
    if (nodes.has(id)) return id;
    const ref = refText(g);
    nodes.set(id, { id, kind: 'groupinfo', objref: realRef(g), title: `groups ${list(g.gids, 12)}`, lines: ref ? [ref] : [] });
    return id;
  };
  const credNode = (c: Cred): string => {
    const id = `cred_${num(c)}`;
    if (nodes.has(id)) return id;
    const ref = refText(c);
    nodes.set(id, { id, kind: 'cred', objref: realRef(c), title: ref ? `cred (${ref})` : 'cred', lines: credLines(c) });
    edge(id, groupsNode(c.groups), 'groups');
    edge(id, userNode(c.user), 'user');
    return id;
  };

  const n = image.tasks.length;
  const above = options.collapseAbove ?? DEFAULT_COLLAPSE_ABOVE;
  const collapse = options.collapse === true || ((options.collapse ?? 'auto') === 'auto' && n > above);
  // Task nodes: one per task, or one per (real cred, effective cred, no_new_privs) when collapsed.
  const taskGroups: number[][] = [];
  if (collapse) {
    // Keyed by the objects themselves: no key made per task (a million tasks, a million
    // strings). Counted first, then filled: a list grown push by push leaves each smaller copy
    // behind as garbage (a million tasks, tens of MiB).
    const byCred = new Map<Cred, Map<Cred, { count: number; tasks: number[] }[]>>();
    const groups: { count: number; tasks: number[] }[] = [];
    const groupOf = (t: Image['tasks'][number]) => {
      let byEcred = byCred.get(t.cred);
      if (!byEcred) byCred.set(t.cred, (byEcred = new Map()));
      let pair = byEcred.get(t.ecred);
      if (!pair) byEcred.set(t.ecred, (pair = []));
      const k = t.noNewPrivs ? 1 : 0;
      let g = pair[k];
      if (!g) groups.push((g = pair[k] = { count: 0, tasks: [] }));
      return g;
    };
    const tasks = image.tasks;
    for (let i = 0; i < n; i++) {
      // Numbered in task order, before any node is made.
      num(tasks[i].cred);
      num(tasks[i].ecred);
      groupOf(tasks[i]).count++;
    }
    for (const g of groups) {
      g.tasks = new Array<number>(g.count);
      g.count = 0;
      taskGroups.push(g.tasks);
    }
    for (let i = 0; i < n; i++) {
      const g = groupOf(tasks[i]);
      g.tasks[g.count++] = i;
    }
  } else {
    for (let i = 0; i < n; i++) taskGroups.push([i]);
  }
  for (const g of taskGroups) {
    const t = image.tasks[g[0]];
    const id = `task_${g[0]}`;
    let title: string;
    const lines: string[] = [];
    if (g.length === 1) {
      const p = t.pids;
      title = `task ${g[0]}: pid ${p.vpid}`;
      lines.push(`ppid ${p.vppid}${p.vtgid !== p.vpid ? ` tgid ${p.vtgid}` : ''} depth ${p.depth}`);
    } else {
      title = `${g.length} tasks (collapsed: identical creds)`;
      // Only the pids shown are gathered (a collapsed node may stand for a million tasks).
      const shown = g.slice(0, PIDS_SHOWN).map((i) => image.tasks[i].pids.vpid);
      lines.push(`pids ${shown.join(',')}${g.length > PIDS_SHOWN ? `,… (${g.length} in all)` : ''}`);
    }
    if (t.noNewPrivs) lines.push('no_new_privs');
    nodes.set(id, { id, kind: 'task', objref: null, title, lines, tasks: g });
    const real = credNode(t.cred);
    if (t.ecred === t.cred) edge(id, real, 'real+effective', 'real = effective');
    else {
      edge(id, real, 'real');
      edge(id, credNode(t.ecred), 'effective');
    }
  }

  // Stable order: tasks in image order, then each kind by number (objref, or first use).
  const sorted = [...nodes.values()].sort((a, b) => {
    const k = KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
    if (k !== 0) return k;
    const na = Number(a.id.replace(/^\D+/, ''));
    const nb = Number(b.id.replace(/^\D+/, ''));
    return na - nb;
  });
  const rank = new Map(sorted.map((x, i) => [x.id, i]));
  const EDGE_ORDER: GraphEdgeKind[] = ['real+effective', 'real', 'effective', 'groups', 'user', 'ns', 'creator', 'parent'];
  edges.sort(
    (a, b) =>
      (rank.get(a.from) as number) - (rank.get(b.from) as number) ||
      EDGE_ORDER.indexOf(a.kind) - EDGE_ORDER.indexOf(b.kind) ||
      (rank.get(a.to) as number) - (rank.get(b.to) as number),
  );
  const h = image.header;
  const title =
    `cr-creds image: ${ARCH_NAMES[h.arch] ?? `arch ${h.arch}`}, kernel ${h.kernel.major}.${h.kernel.minor}.${h.kernel.patch}, ` +
    `${n} task${n === 1 ? '' : 's'}${collapse ? `, tasks with identical creds collapsed (${taskGroups.length} nodes)` : ''}`;
  return { title, nodes: sorted, edges, taskCount: n, collapsed: collapse };
}
