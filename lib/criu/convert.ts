// Conversions between a CRIU dump and a linux-cr image, through the shared credential model.
// Both directions say what they could not carry (`lossy`); CRIU -> image also says what it had
// to assume (`assumed`). docs/criu-interop.md explains every key.
import type { CapSet, Cred, IdMapExtent, TaskCreds, UserNamespace } from '../model/types';
import { sameCred } from '../model/creds';
import { ImageBuilder } from '../format/builder';
import type { CredLayout, Image, ImageHeader } from '../format/types';
import type { CriuDump, CriuTask, CriuUserns, LossyItem } from './dump';
import { treeDepths } from '../model/tree';
import {
  LSMTYPE,
  MARCH,
  type CredsEntry,
  type InventoryEntry,
  type PstreeEntry,
  type TaskKobjIdsEntry,
  type UidGidExtent,
} from './schema';

// ---- capability words -------------------------------------------------------------------------

/** CRIU's repeated uint32 capability words (lowest first) as a set. */
export function capWordsToSet(words: readonly number[] | undefined): CapSet {
  let set = 0n;
  (words ?? []).forEach((w, i) => {
    set |= BigInt(w >>> 0) << BigInt(32 * i);
  });
  return set;
}

/** A set as CRIU's words: two (CR_CAP_SIZE), more only if the set needs them. */
export function capSetToWords(set: CapSet): number[] {
  const words: number[] = [];
  for (let rest = BigInt.asUintN(256, set); words.length < 2 || rest !== 0n; rest >>= 32n)
    words.push(Number(rest & 0xffffffffn));
  return words;
}

const CAP_SETS = [
  ['inheritable', 'cap_inh'],
  ['permitted', 'cap_prm'],
  ['effective', 'cap_eff'],
  ['bounding', 'cap_bnd'],
  ['ambient', 'cap_amb'],
] as const;

// ---- architecture -----------------------------------------------------------------------------

/** linux-cr arch ids by CRIU march; CRIU's other architectures have no linux-cr id. */
const ARCH_BY_MARCH: Readonly<Record<number, { arch: number; machine: string; order: 'little' | 'big' }>> = {
  [MARCH.X86_64]: { arch: 2, machine: 'x86_64', order: 'little' },
  [MARCH.ARM]: { arch: 4, machine: 'armv7l', order: 'little' },
  [MARCH.S390]: { arch: 3, machine: 's390x', order: 'big' },
};

const MARCH_BY_ARCH: Readonly<Record<number, number>> = {
  2: MARCH.X86_64,
  3: MARCH.S390,
  4: MARCH.ARM,
};

const MARCH_NAMES = Object.fromEntries(Object.entries(MARCH).map(([k, v]) => [v, k])) as Record<number, string>;

// ---- user-namespace maps ----------------------------------------------------------------------

function fromExtent(e: UidGidExtent): IdMapExtent {
  return { inside: e.first, outside: e.lower_first, count: e.count };
}

function toExtent(e: IdMapExtent): UidGidExtent {
  return { first: e.inside, lower_first: e.outside, count: e.count };
}

/**
 * `inner` (a namespace's map into its parent) followed by `outer` (the parent's map into its own
 * parent): the namespace's map into the grandparent. `complete` is false when some inner ids
 * have no image in the parent's map (the kernel never allows that; a hand-made image can).
 */
export function composeMaps(
  inner: readonly IdMapExtent[],
  outer: readonly IdMapExtent[],
): { map: IdMapExtent[]; complete: boolean } {
  const map: IdMapExtent[] = [];
  let covered = 0;
  let wanted = 0;
  for (const e of inner) {
    wanted += e.count;
    for (const o of outer) {
      const start = Math.max(e.outside, o.inside);
      const end = Math.min(e.outside + e.count, o.inside + o.count);
      if (start >= end) continue;
      map.push({ inside: e.inside + (start - e.outside), outside: o.outside + (start - o.inside), count: end - start });
      covered += end - start;
    }
  }
  map.sort((a, b) => a.inside - b.inside);
  return { map, complete: covered === wanted };
}

// ---- CRIU -> linux-cr --------------------------------------------------------------------------

export interface CriuToImageOptions {
  /** Header fields CRIU does not record (kernel version, constants, uts, time). */
  header?: Partial<ImageHeader>;
  /** CRED layout of the image; 88 (the seed's) by default. */
  credLayout?: CredLayout;
}

export interface CriuToImageResult {
  image: Image;
  /** What the dump holds that the image cannot. */
  lossy: LossyItem[];
  /** What the image needs that the dump does not record, and the value assumed for it. */
  assumed: LossyItem[];
}

/** The image's credentials of a CRIU dump, with what could not be carried and what was assumed. */
export function criuToImage(dump: CriuDump, options: CriuToImageOptions = {}): CriuToImageResult {
  if (dump.tasks.length === 0) throw new RangeError('criuToImage: the dump has no task');
  const lossy: LossyItem[] = [];
  const assumed: LossyItem[] = [];
  const b = new ImageBuilder({ header: criuHeader(dump, options.header, lossy), credLayout: options.credLayout });

  // Each user namespace CRIU dumped (maps relative to CRIU's own namespace) becomes a namespace
  // one level below the image's root (the restarter's namespace), so that restart re-creates it.
  const nsById = new Map<number, UserNamespace>();
  const nsOf = (t: CriuTask): UserNamespace => {
    const dumped: CriuUserns | undefined = dump.userns.find((u) => u.id === t.ids?.user_ns_id);
    if (!dumped) return b.rootNs;
    let ns = nsById.get(dumped.id);
    if (!ns) {
      ns = b.namespace(b.user(0), {
        uidMap: (dumped.entry.uid_map ?? []).map(fromExtent),
        gidMap: (dumped.entry.gid_map ?? []).map(fromExtent),
      });
      nsById.set(dumped.id, ns);
      assumed.push({
        what: 'userns-creator',
        detail: `CRIU does not record who created user namespace ${dumped.id}; uid 0 of the restarter's namespace is taken as its creator, the user criu restore creates it as.`,
      });
    }
    return ns;
  };

  const depths = treeDepths(dump.pstree);
  for (const t of dump.tasks) {
    const c = t.creds;
    noteCriuOnly(t, lossy);
    const given = c.groups ?? [];
    if (given.some((g, i) => i > 0 && g <= given[i - 1]))
      lossy.push({
        what: 'groups-order',
        tid: t.tid,
        detail: `the supplementary groups ${given.join(',')} are not strictly ascending; the image holds them sorted, without repeats.`,
      });
    const caps = {} as Record<(typeof CAP_SETS)[number][0], CapSet>;
    for (const [set, field] of CAP_SETS) {
      const all = capWordsToSet(c[field]);
      caps[set] = BigInt.asUintN(64, all);
      if (caps[set] !== all)
        lossy.push({
          what: 'caps-beyond-64',
          tid: t.tid,
          detail: `${field} has capabilities above 63, which a linux-cr capability set (64 bits) cannot hold; they are dropped.`,
        });
    }
    const cred = b.cred({
      uid: c.uid,
      euid: c.euid,
      suid: c.suid,
      fsuid: c.fsuid,
      gid: c.gid,
      egid: c.egid,
      sgid: c.sgid,
      fsgid: c.fsgid,
      groups: b.groups(given),
      user: b.user(c.uid, nsOf(t)),
      caps,
      securebits: c.secbits,
    });
    // CRIU has one cred per thread, read from inside it: at rest, task->cred is real_cred.
    b.task(cred, {
      pids: { vpid: t.tid, vppid: t.ppid, vtgid: t.pid, vpgid: t.pgid, vsid: t.sid, depth: depths.get(t.pid) ?? 0 },
      noNewPrivs: (c.no_new_privs ?? 0) !== 0,
    });
  }
  return { image: b.build(), lossy, assumed };
}

/** What a CRIU creds entry holds that the model has no place for. */
function noteCriuOnly(t: CriuTask, lossy: LossyItem[]): void {
  const c = t.creds;
  if (c.lsm_profile !== undefined)
    lossy.push({ what: 'lsm_profile', tid: t.tid, detail: `the LSM profile '${c.lsm_profile}' has no place in a linux-cr image.` });
  if (c.lsm_sockcreate !== undefined)
    lossy.push({ what: 'lsm_sockcreate', tid: t.tid, detail: `the LSM socket-creation label '${c.lsm_sockcreate}' has no place in a linux-cr image.` });
  if (c.apparmor_data !== undefined)
    lossy.push({ what: 'apparmor_data', tid: t.tid, detail: `${c.apparmor_data.length} bytes of AppArmor policy data have no place in a linux-cr image.` });
}

function criuHeader(dump: CriuDump, given: Partial<ImageHeader> | undefined, lossy: LossyItem[]): ImageHeader {
  const mtype = dump.tasks[0].mtype;
  const a = ARCH_BY_MARCH[mtype];
  if (!a && given?.arch === undefined)
    lossy.push({
      what: 'arch',
      detail: `the architecture ${MARCH_NAMES[mtype] ?? mtype} has no linux-cr arch id; the image says arch 0 (unknown).`,
    });
  if (dump.tasks.some((t) => t.mtype !== mtype))
    lossy.push({ what: 'arch', detail: 'the dump mixes architectures; a linux-cr image has one, that of the first task.' });
  return {
    byteOrder: given?.byteOrder ?? a?.order ?? 'little',
    arch: given?.arch ?? a?.arch ?? 0,
    // CRIU records neither the kernel's version nor its constants: zero means "not recorded".
    kernel: given?.kernel ?? { major: 0, minor: 0, patch: 0, rev: 0 },
    constants: given?.constants ?? new Array<number>(12).fill(0),
    time: given?.time ?? 0n,
    uflags: given?.uflags ?? 0n,
    uts: given?.uts ?? { release: '', version: '', machine: a?.machine ?? '' },
  };
}

// ---- linux-cr -> CRIU --------------------------------------------------------------------------

// Namespace ids of the synthesized ids images, numbered as a CRIU 4.x dump numbers them: CRIU's
// own namespaces in the inventory's root_ids, shared by the tasks (except a dumped user ns).
const NS_IDS = {
  pid_ns_id: 1,
  net_ns_id: 2,
  ipc_ns_id: 3,
  uts_ns_id: 4,
  time_ns_id: 5,
  mnt_ns_id: 6,
  user_ns_id: 7,
  cgroup_ns_id: 8,
} as const;
/** The id given to the tasks' own user namespace, when they are not in the image's root one. */
export const TASK_USER_NS_ID = 9;

/** The CRIU creds entry of a model cred, as CRIU 4.2 writes it; secbits null is written as 0. */
export function credToCriu(cred: Cred, noNewPrivs: boolean): CredsEntry {
  const e: CredsEntry = {
    uid: cred.uid,
    gid: cred.gid,
    euid: cred.euid,
    egid: cred.egid,
    suid: cred.suid,
    sgid: cred.sgid,
    fsuid: cred.fsuid,
    fsgid: cred.fsgid,
    cap_inh: capSetToWords(cred.caps.inheritable),
    cap_prm: capSetToWords(cred.caps.permitted),
    cap_eff: capSetToWords(cred.caps.effective),
    cap_bnd: capSetToWords(cred.caps.bounding),
    secbits: cred.securebits ?? 0,
  };
  // CRIU writes groups only when there are some, and no_new_privs only when it is on.
  if (cred.groups.gids.length > 0) e.groups = [...cred.groups.gids];
  if (noNewPrivs) e.no_new_privs = 1;
  e.cap_amb = capSetToWords(cred.caps.ambient);
  return e;
}

export interface ImageToCriuResult {
  dump: CriuDump;
  /** What the image holds that a CRIU dump cannot. */
  lossy: LossyItem[];
}

/** The CRIU dump (creds, tree, ids, user namespace) of an image's tasks. */
export function imageToCriuDump(image: Image): ImageToCriuResult {
  if (image.tasks.length === 0) throw new RangeError('imageToCriuDump: the image has no task');
  const lossy: LossyItem[] = [];
  const mtype = MARCH_BY_ARCH[image.header.arch] ?? MARCH.UNKNOWN;
  if (mtype === MARCH.UNKNOWN)
    lossy.push({
      what: 'arch',
      detail: `the linux-cr arch ${image.header.arch} has no CRIU counterpart (CRIU dumps 32-bit x86 tasks as X86_64 cores); the cores say UNKNOWN.`,
    });

  const userns = imageUserns(image.tasks[0].cred.user.ns, lossy);
  const others = new Set<UserNamespace>();
  for (const t of image.tasks) noteImageOnly(t, image.tasks[0].cred.user.ns, others, lossy);
  if ((image.security?.length ?? 0) > 0)
    lossy.push({ what: 'sec_ref', detail: `the image's ${image.security!.length} LSM (SECURITY) objects have no CRIU counterpart.` });

  const pstree = imagePstree(image.tasks, lossy);
  const index = new Map(pstree.map((p, i) => [p.pid, i] as const));
  const ppidOf = new Map(pstree.map((p) => [p.pid, p.ppid] as const));
  // Per-process object ids numbered from 2 (1 is CRIU's own, in root_ids): a linux-cr image does
  // not say which processes share an mm or a file table, so each has its own.
  const taskIds = (pid: number): TaskKobjIdsEntry => {
    const n = 2 + index.get(pid)!;
    return {
      vm_id: n,
      files_id: n,
      fs_id: n,
      sighand_id: n,
      ...NS_IDS,
      ...(userns.length > 0 ? { user_ns_id: TASK_USER_NS_ID } : {}),
    };
  };
  // Tasks in CRIU's order: process by process as in pstree, each process's threads in its order.
  const byTid = new Map(image.tasks.map((t) => [t.pids.vpid, t] as const));
  const tasks: CriuTask[] = pstree.flatMap((p) =>
    p.threads!.map((tid) => {
      const t = byTid.get(tid)!;
      return {
        pid: p.pid,
        tid,
        ppid: ppidOf.get(p.pid)!,
        pgid: p.pgid,
        sid: p.sid,
        mtype,
        creds: credToCriu(t.cred, t.noNewPrivs),
        ids: taskIds(p.pid),
      };
    }),
  );

  const inventory: InventoryEntry = {
    img_version: 2, // CRTOOLS_IMAGES_V1_1
    fdinfo_per_id: true,
    root_ids: { vm_id: 1, files_id: 1, fs_id: 1, sighand_id: 1, ...NS_IDS },
    ns_per_id: true,
    lsmtype: LSMTYPE.NO_LSM,
  };
  return { dump: { inventory, pstree, tasks, userns }, lossy };
}

/**
 * CRIU's user namespace of the tasks. CRIU dumps one: the tree's own, with its maps relative to
 * CRIU's namespace (here: the image's root, where restart runs). A namespace deeper in the chain
 * is flattened into one with the composed maps.
 */
function imageUserns(ns0: UserNamespace, lossy: LossyItem[]): CriuUserns[] {
  const levels: UserNamespace[] = []; // ns0 first, up to the level below the root
  let root = ns0;
  for (const seen = new Set<UserNamespace>(); root.creator !== null; root = root.creator.ns) {
    if (seen.has(root)) throw new RangeError('imageToCriuDump: the user-namespace creator chain loops');
    seen.add(root);
    levels.push(root);
  }
  if (root.uidMap !== undefined || root.gidMap !== undefined)
    lossy.push({
      what: 'userns-root-maps',
      detail: "the maps of the image's root namespace (where restart runs) have no place in a CRIU dump, whose maps are relative to CRIU's own namespace.",
    });
  if ([root, ...levels].some((l) => l.setgroups === 'deny'))
    lossy.push({ what: 'userns-setgroups', detail: "setgroups 'deny' has no place in a CRIU dump; criu restore leaves setgroups 'allow'." });
  if (levels.length === 0) return [];

  const outermost = levels[levels.length - 1];
  if (outermost.creator!.uid !== 0)
    lossy.push({
      what: 'userns-creator',
      detail: `the user namespace's creator (uid ${outermost.creator!.uid}) is not recorded by CRIU, which creates it as root.`,
    });
  if (levels.length > 1)
    lossy.push({
      what: 'userns-nested',
      detail: `the tasks' user namespace is ${levels.length} levels below the root; CRIU holds one level, so the maps are composed through the levels between and those levels and their creators are not carried.`,
    });

  const composed = (kind: 'uid' | 'gid'): UidGidExtent[] | undefined => {
    const key = kind === 'uid' ? 'uidMap' : 'gidMap';
    let map = levels[0][key];
    let complete = true;
    for (let i = 1; i < levels.length && map !== undefined; i++) {
      const outer = levels[i][key];
      if (outer === undefined) {
        map = undefined;
        break;
      }
      const r = composeMaps(map, outer);
      map = r.map;
      complete &&= r.complete;
    }
    if (map === undefined) {
      lossy.push({
        what: 'userns-maps',
        detail: `the ${kind}_map of the tasks' user namespace${levels.length > 1 ? ' or of a level above it' : ''} was not recorded; the CRIU dump holds an empty ${kind}_map.`,
      });
      return undefined;
    }
    if (!complete)
      lossy.push({
        what: 'userns-maps',
        detail: `some ids of the ${kind}_map are not mapped by the levels above; they are left out of the composed ${kind}_map.`,
      });
    return map.map(toExtent);
  };
  const uid = composed('uid');
  const gid = composed('gid');
  return [
    {
      id: TASK_USER_NS_ID,
      entry: { ...(uid?.length ? { uid_map: uid } : {}), ...(gid?.length ? { gid_map: gid } : {}) },
    },
  ];
}

/**
 * CRIU's process tree: one entry per thread group, parents before children (depth first, as
 * CRIU writes it), the root's ppid 0. Every thread group must have its leader among the tasks.
 */
function imagePstree(tasks: readonly TaskCreds[], lossy: LossyItem[]): PstreeEntry[] {
  const procs = new Map<number, PstreeEntry>();
  for (const t of tasks) {
    const p = t.pids;
    let e = procs.get(p.vtgid);
    if (!e) procs.set(p.vtgid, (e = { pid: p.vtgid, ppid: p.vppid, pgid: p.vpgid, sid: p.vsid, threads: [] }));
    if (e.threads!.includes(p.vpid)) throw new RangeError(`imageToCriuDump: task ${p.vpid} appears twice`);
    e.threads!.push(p.vpid);
  }
  for (const e of procs.values())
    if (!e.threads!.includes(e.pid))
      throw new RangeError(
        `imageToCriuDump: threads ${e.threads!.join(', ')} of process ${e.pid} are in the image but its leader is not; CRIU needs the leader's core`,
      );
  const children = new Map<number, PstreeEntry[]>();
  const roots: PstreeEntry[] = [];
  for (const e of procs.values()) {
    if (e.ppid !== e.pid && procs.has(e.ppid)) {
      const list = children.get(e.ppid) ?? [];
      list.push(e);
      children.set(e.ppid, list);
    } else roots.push(e);
  }
  if (roots.length > 1)
    lossy.push({
      what: 'tree-roots',
      detail: `processes ${roots.map((r) => r.pid).join(', ')} have no parent in the image; a CRIU dump is one tree with one root, so all are written as roots.`,
    });
  // CRIU's root has ppid 0: its real parent is outside the dump.
  for (const r of roots) r.ppid = 0;
  const out: PstreeEntry[] = [];
  const stack = [...roots].reverse();
  while (stack.length > 0) {
    const e = stack.pop()!;
    out.push(e);
    stack.push(...[...(children.get(e.pid) ?? [])].reverse());
  }
  if (out.length !== procs.size) throw new RangeError('imageToCriuDump: the parent links of the processes loop');
  return out;
}

/** What an image task holds that CRIU's creds entry has no place for. */
function noteImageOnly(t: TaskCreds, ns0: UserNamespace, others: Set<UserNamespace>, lossy: LossyItem[]): void {
  const tid = t.pids.vpid;
  const { cred, ecred } = t;
  if (ecred !== cred && !sameCred(ecred, cred))
    lossy.push({
      what: 'ecred',
      tid,
      detail: 'the effective (subjective) cred differs from the real one; CRIU holds one cred per thread, and the real one is written.',
    });
  if (cred.user.uid !== cred.uid)
    lossy.push({ what: 'user', tid, detail: `the user object's uid ${cred.user.uid} differs from the real uid ${cred.uid}; CRIU has no user object.` });
  if (cred.securebits === null)
    lossy.push({ what: 'securebits-unknown', tid, detail: 'the securebits were not read at checkpoint; CRIU needs a value and 0 is written.' });
  if (cred.secRef !== undefined && cred.secRef !== 0)
    lossy.push({ what: 'sec_ref', tid, detail: `the LSM label (objref ${cred.secRef}) has no CRIU counterpart.` });
  const ns = cred.user.ns;
  if (ns !== ns0 && !others.has(ns)) {
    others.add(ns);
    lossy.push({
      what: 'userns-multiple',
      tid,
      detail: "the task is in another user namespace than the first task; CRIU dumps one user namespace, and the task's ids are written as they are.",
    });
  }
}

