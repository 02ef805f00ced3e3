// The readable `inspect` report, produced line by line (reportLines) so that an image of a
// million tasks or a namespace chain a hundred thousand levels deep is written as it is made.
import { capHex, capNames, fullCapSet, securebitNames } from '../model/capabilities';
import type { CapSet, Cred, IdMapExtent } from '../model/types';
import { ARCH_NAMES } from '../format/constants';
import { DEFAULT_DIALECT } from '../format/dialects';
import { describePrefix } from './prefix';
import type { Image } from '../format/types';
import { isoTime } from './iso-time';
import { collectNamespaces, type NamespaceEntry } from './namespaces';
import { groupsAsRead } from '../model/unmapped';
import { unmappedText, unmappedViews } from './unmapped';

function capLine(label: string, set: CapSet): string {
  let names: string;
  if (set === 0n) names = '(none)';
  else {
    const top = set.toString(2).length - 1;
    const missing = capNames(fullCapSet(top) & ~set);
    // A set near full reads best as what it lacks (a bounding set without one cap, say).
    // Only for full-width sets (a kernel's 0..cap_last_cap), not for CAP_CHOWN|CAP_DAC_OVERRIDE.
    names = top < 32 ? capNames(set).join(' ') : missing.length === 0 ? `(all, 0..${top})` : missing.length <= 4 ? `(all of 0..${top} except ${missing.join(' ')})` : capNames(set).join(' ');
  }
  return `${label.padEnd(12)}${capHex(set)} ${names}`;
}

function maps(m: readonly IdMapExtent[]): string {
  return m.length === 0 ? '(empty)' : m.map((e) => `${e.inside} ${e.outside} ${e.count}`).join(', ');
}

/** The namespace tree indents up to this many levels; deeper lines say their level instead. */
export const REPORT_MAX_INDENT = 32;
/** Rendered cred blocks kept for reuse (tasks share creds); the cache restarts when full. */
const CRED_CACHE_MAX = 4096;

/** The whole report as one string (see reportLines for big images). */
export function renderReport(image: Image, objrefs?: Map<object, number>): string {
  return [...reportLines(image, objrefs)].join('\n') + '\n';
}

/** The report's lines, without their newlines, made one at a time. */
export function* reportLines(image: Image, objrefs?: Map<object, number>): Generator<string> {
  const nss = collectNamespaces(image, objrefs);
  const name = new Map<object, string>(nss.map((e) => [e.ns, `ns${e.index}`]));
  const ref = (o: object) => {
    const r = objrefs?.get(o);
    return r === undefined ? '' : ` (objref ${r})`;
  };
  const h = image.header;
  yield* [
    `image:     ${ARCH_NAMES[h.arch] ?? `arch ${h.arch}`}, ${h.byteOrder}-endian, dialect ${image.dialect ?? DEFAULT_DIALECT}, CRED layout ${image.credLayout} bytes`,
    `prefix:    ${describePrefix(image)}`,
    `kernel:    ${h.kernel.major}.${h.kernel.minor}.${h.kernel.patch} (rev ${h.kernel.rev}); uts ${h.uts.release} ${h.uts.version} ${h.uts.machine}`,
    // 0: the writer did not record it (a CRIU conversion, a hand-built image).
    `written:   ${h.time === 0n ? 'not recorded (time 0)' : (isoTime(h.time) ?? `${h.time} s`)}`,
    `tasks:     ${image.tasks.length}`,
    '',
    'user namespaces:',
  ];
  const children = new Map<NamespaceEntry['ns'] | null, NamespaceEntry[]>();
  for (const e of nss) {
    const parent = e.ns.creator ? e.ns.creator.ns : null;
    const key = parent && name.has(parent) ? parent : null;
    if (!children.has(key)) children.set(key, []);
    (children.get(key) as NamespaceEntry[]).push(e);
  }
  // Iterative depth-first drawing: root namespaces, then children by creator user.
  // Past REPORT_MAX_INDENT levels the prefix stops growing (it would make the report quadratic
  // in the depth) and each line names its level.
  const stack: { e: NamespaceEntry; prefix: string; last: boolean; top: boolean; level: number }[] = [];
  const roots = children.get(null) ?? [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push({ e: roots[i], prefix: '', last: i === roots.length - 1, top: true, level: 0 });
  while (stack.length > 0) {
    const { e, prefix, last, top, level } = stack.pop() as (typeof stack)[number];
    const ns = e.ns;
    const what = ns.creator
      ? `created by uid ${ns.creator.uid} of ${name.get(ns.creator.ns) ?? '?'}`
      : 'root (the restarter\'s namespace)';
    const extra: string[] = [];
    if (ns.uidMap) extra.push(`uid_map ${maps(ns.uidMap)}`);
    if (ns.gidMap) extra.push(`gid_map ${maps(ns.gidMap)}`);
    if (ns.setgroups) extra.push(`setgroups ${ns.setgroups}`);
    if (ns.inode !== undefined) extra.push(`inode ${ns.inode}`);
    const deep = level > REPORT_MAX_INDENT;
    const branch = top ? '  ' : `${prefix}${last ? '└─ ' : '├─ '}`;
    yield `${branch}${deep ? `[level ${level}] ` : ''}${name.get(ns)}${ref(ns)}: ${what}${extra.length ? '; ' + extra.join('; ') : ''}`;
    const kids = children.get(ns) ?? [];
    const childPrefix = top ? '  ' : level >= REPORT_MAX_INDENT ? prefix : `${prefix}${last ? '   ' : '│  '}`;
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ e: kids[i], prefix: childPrefix, last: i === kids.length - 1, top: false, level: level + 1 });
  }
  // Tasks share creds: a cred's block is rendered once and reused (a bounded cache).
  const blocks = new Map<Cred, string[]>();
  const cached = (label: string, c: Cred): string[] => {
    let b = blocks.get(c);
    if (b === undefined || b[0] !== `  ${label}${ref(c)}:`) {
      if (blocks.size >= CRED_CACHE_MAX) blocks.clear();
      blocks.set(c, (b = cred(label, c)));
    }
    return b;
  };
  const cred = (label: string, c: Cred): string[] => {
    const out: string[] = [];
    out.push(`  ${label}${ref(c)}:`);
    out.push(`    uids:       real ${c.uid}, effective ${c.euid}, saved ${c.suid}, fs ${c.fsuid}`);
    out.push(`    gids:       real ${c.gid}, effective ${c.egid}, saved ${c.sgid}, fs ${c.fsgid}`);
    // As getgroups(2) returns them in the task's namespace: unmapped groups read 65534 each.
    const groups = groupsAsRead(c);
    out.push(`    groups:     ${groups.length ? groups.join(' ') : '(none)'}`);
    const unmapped = unmappedViews(c);
    if (unmapped.length) {
      const own = name.get(c.user.ns) ?? '?';
      out.push(`    unmapped:   ${unmapped.map((v) => unmappedText(v, own, name.get(v.ancestor.ns) ?? '?')).join('; ')}`);
    }
    out.push(`    user:       uid ${c.user.uid} in ${name.get(c.user.ns) ?? '?'}`);
    out.push(`    ${capLine('inheritable', c.caps.inheritable)}`);
    out.push(`    ${capLine('permitted', c.caps.permitted)}`);
    out.push(`    ${capLine('effective', c.caps.effective)}`);
    out.push(`    ${capLine('bounding', c.caps.bounding)}`);
    out.push(`    ${capLine('ambient', c.caps.ambient)}`);
    const sb = c.securebits;
    out.push(`    securebits: ${sb === null ? 'unknown' : `0x${sb.toString(16)} ${sb === 0 ? '(none)' : securebitNames(sb).join(' ')}`}`);
    if (c.secRef !== undefined) out.push(`    sec_ref:    ${c.secRef}`);
    return out;
  };
  const tasks = image.tasks;
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i];
    const p = t.pids;
    yield '';
    yield `task ${i}: pid ${p.vpid}, ppid ${p.vppid}, tgid ${p.vtgid}, pgid ${p.vpgid}, sid ${p.vsid}, depth ${p.depth}`;
    yield `  no_new_privs: ${t.noNewPrivs ? 'yes' : 'no'}`;
    yield* cached('real cred', t.cred);
    if (t.ecred === t.cred) yield '  effective cred: the same object as the real cred';
    else yield* cached('effective cred', t.ecred);
  }
}
