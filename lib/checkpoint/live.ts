// The live state of processes, read by the addon and put into the task's own terms: ids
// translated through the user-namespace chain into the task's namespace, groups sorted as the
// kernel keeps them. Nothing here builds the image (see image.ts).
import type { Capabilities } from '../model/types';
import { ID_FIELDS, OVERFLOW_ID, type UnmappedIds, idKind, unmappedKey } from '../model/unmapped';
import { mapThrough } from '../model/idmap';
import { native, type LiveTasksFlat, type UserNsLevel } from '../native/binding';
import * as fs from 'fs';
import { ProcessGoneError, fromNative } from './errors';
import { tracerUsed } from './tracer';

/**
 * Where securebits cannot be read (ptrace or the BPF reader refused): 'fail' rejects, 'mark'
 * records them unknown (null). 'skip' does not try: no task is stopped or traced, and every
 * task's securebits are recorded unknown.
 */
export type UnknownSecurebits = 'fail' | 'mark' | 'skip';

/**
 * How securebits are read. 'ptrace': inside each task, by our tracer (the task is stopped a
 * moment). 'bpf': by a BPF task iterator, in the kernel, on the reading thread: the task is never
 * stopped or traced; needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) and a kernel with BTF and
 * task iterators of one thread (6.1), else rejects (SecurebitsReaderUnavailableError). 'auto':
 * BPF where it can be used, else ptrace. Default: the CR_CREDS_SECUREBITS_READER environment
 * variable, else 'auto'.
 */
export type SecurebitsReader = 'auto' | 'bpf' | 'ptrace';

const READERS: readonly string[] = ['auto', 'bpf', 'ptrace'];

/** The reader asked for, else the environment's, else 'auto'. */
export function securebitsReader(asked: SecurebitsReader | undefined): SecurebitsReader {
  if (asked !== undefined) return asked;
  const env = process.env.CR_CREDS_SECUREBITS_READER;
  if (env === undefined || env === '') return 'auto';
  if (!READERS.includes(env)) throw new TypeError(`CR_CREDS_SECUREBITS_READER must be auto, bpf or ptrace, not ${JSON.stringify(env)}`);
  return env as SecurebitsReader;
}

/** Where a checkpoint is: walking the tree (total unknown) or reading processes (done of total). */
export interface CheckpointProgress {
  phase: 'tree' | 'read';
  /** Processes found (tree) or read (read) so far. */
  done: number;
  /** Processes to read; null while the tree is walked. */
  total: number | null;
}

export interface ReadLiveOptions {
  threads?: boolean;
  unknownSecurebits?: UnknownSecurebits;
  securebitsReader?: SecurebitsReader;
  /** Tests only: keep each task stopped under ptrace this long (the ptrace reader, whatever is asked). */
  testDelayMs?: number;
  /**
   * Called as the work goes on (processes are then read in batches, each batch one call into the
   * addon); an exception it throws ends the checkpoint.
   */
  onProgress?: (p: CheckpointProgress) => void;
}

/** Processes per addon call when progress is reported. */
const PROGRESS_BATCH = 32;

/** One thread's creds as the task sees them. */
export interface LiveCreds {
  tid: number;
  /** The thread's pid and tgid in its own pid namespace. */
  vpid: number;
  vtgid: number;
  /** NSpid / NStgid of /proc: the ids in each pid namespace from the caller's down, innermost last. */
  nspid: number[];
  nstgid: number[];
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
  groups: number[];
  caps: Capabilities;
  securebits: number | null;
  noNewPrivs: boolean;
  /**
   * Ids with no mapping in the task's namespace (shown above as 65534): their kernel ids, i.e. the
   * ids as the caller, outside, reads them (lib/model/unmapped.ts). Absent when every id is mapped.
   */
  unmapped?: UnmappedIds;
}

export interface LiveProcess {
  pid: number;
  /** User namespaces from the caller's (excluded) down to the task's, outermost first. */
  chain: UserNsLevel[];
  vpid: number;
  vppid: number;
  vpgid: number;
  vsid: number;
  /** The parent's pid as /proc shows it to the caller (PPid of the status already read). */
  ppid: number;
  /** NSpgid / NSsid of the leader, outermost first (an entry per pid namespace level). */
  nspgid: number[];
  nssid: number[];
  /** The leader first. */
  threads: LiveCreds[];
}

/** Ids ascending and once each, as the kernel keeps groups (by kgid); the same array when so. */
function ascending(ids: number[]): number[] {
  for (let i = 1; i < ids.length; i++) if (ids[i] <= ids[i - 1]) return [...new Set(ids)].sort((a, b) => a - b);
  return ids;
}

/** A process as read, its ids as the caller sees them (translated later when its namespace is
 *  another), and its namespace's inode. */
interface Read {
  process: LiveProcess;
  userNsInode: bigint;
}

/** What is said of a zombie: it has exited, whatever the read that failed on it. */
export function zombieMessage(pid: number): string {
  return `process ${pid} has exited (a zombie its parent has not reaped): there is nothing to checkpoint`;
}

function exited(pid: number): ProcessGoneError {
  return new ProcessGoneError(zombieMessage(pid), 'ESRCH', pid, 'read /proc/PID/stat');
}

/** Whether `pid` is a zombie (or dead), from the state field of /proc/PID/stat. */
export function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

/** readLiveTasksFlat's answer (see LiveTasksFlat) straight into our objects. */
function fromFlat({ nums: f, bigs: b }: LiveTasksFlat, out: Read[]): void {
  let i = 0;
  let k = 0;
  const list = (): number[] => {
    const n = f[i++];
    const a = new Array<number>(n);
    for (let x = 0; x < n; x++) a[x] = f[i++];
    return a;
  };
  while (i < f.length) {
    const pid = f[i++];
    const proc: LiveProcess = { pid, chain: [], vpid: f[i++], vppid: 0, vpgid: 0, vsid: 0, ppid: 0, nspgid: [], nssid: [], threads: [] };
    i++; // vtgid: the leader's, as each thread's below
    proc.vppid = f[i++];
    proc.vpgid = f[i++];
    proc.vsid = f[i++];
    const nthreads = f[i++];
    const userNsInode = b[k++];
    for (let t = 0; t < nthreads; t++) {
      const tid = f[i++];
      const securebits = f[i++];
      i++; // securebitsError's index
      // A zombie has exited: /proc still shows its last creds, but there is no process to
      // checkpoint (and ptrace, refused on it, would blame permissions).
      if (t === 0 && (f[i] === 0x5a /* Z */ || f[i] === 0x58 /* X */)) throw exited(pid);
      i += 3; // State, tgid, pid (the tid again)
      if (t === 0) proc.ppid = f[i];
      i += 2; // ppid, tracerPid
      const creds: LiveCreds = {
        tid,
        vpid: 0,
        vtgid: 0,
        nspid: [],
        nstgid: [],
        uid: f[i++],
        euid: f[i++],
        suid: f[i++],
        fsuid: f[i++],
        gid: f[i++],
        egid: f[i++],
        sgid: f[i++],
        fsgid: f[i++],
        noNewPrivs: f[i++] === 1,
        groups: list(),
        caps: { inheritable: b[k++], permitted: b[k++], effective: b[k++], bounding: b[k++], ambient: b[k++] },
        securebits: securebits < 0 ? null : securebits,
      };
      creds.nstgid = list(); // innermost last
      creds.nspid = list();
      creds.vtgid = creds.nstgid[creds.nstgid.length - 1];
      creds.vpid = creds.nspid[creds.nspid.length - 1];
      const nspgid = list();
      const nssid = list();
      if (t === 0) {
        proc.nspgid = nspgid;
        proc.nssid = nssid;
      }
      proc.threads.push(creds);
    }
    out.push({ process: proc, userNsInode });
  }
}

/** Ids as the caller sees them into the task's own namespace, down `chain`; groups ascending. */
function intoTaskView(p: LiveProcess, chain: UserNsLevel[]): void {
  p.chain = chain;
  const maps = { uid: chain.map((l) => l.uidMap), gid: chain.map((l) => l.gidMap) };
  for (const t of p.threads) {
    if (chain.length > 0) {
      // An id the task's namespace does not map shows as 65534 there; the caller, outside, reads
      // the real one: kept as the kernel id behind it.
      const unmapped: { -readonly [K in keyof UnmappedIds]: UnmappedIds[K] } = {};
      for (const f of ID_FIELDS) {
        const v = mapThrough(maps[idKind(f)], t[f]);
        if (v < 0) unmapped[f] = t[f];
        t[f] = v < 0 ? OVERFLOW_ID : v;
      }
      const keys = t.groups.map((k) => {
        const v = mapThrough(maps.gid, k);
        return v < 0 ? unmappedKey(k) : v;
      });
      if (keys.some((k) => k < 0)) unmapped.groups = keys;
      t.groups = keys.map((k) => (k < 0 ? OVERFLOW_ID : k));
      if (Object.keys(unmapped).length) t.unmapped = unmapped;
    }
    // The kernel sorts by kgid; the task's view of them may order differently.
    t.groups = ascending(t.groups);
  }
}

/** Our own user namespace, read once: a process with more than one thread (Node always has
 *  several) can neither unshare nor setns its user namespace. */
let callerNs: bigint | undefined;

/** Reads processes (and their threads when asked) and their user-namespace chains. */
export async function readLive(pids: readonly number[], options: ReadLiveOptions = {}): Promise<LiveProcess[]> {
  const n = native();
  return reading(async () => {
    const nativeOptions = nativeOptionsOf(options);
    // With a listener, the same reads in the same order a batch at a time, so that it hears of
    // each batch; without one, a single batch.
    const report = options.onProgress;
    const size = report ? PROGRESS_BATCH : Math.max(1, pids.length);
    const read: Read[] = [];
    report?.({ phase: 'read', done: 0, total: pids.length });
    for (let i = 0; i < pids.length; i += size) {
      const batch = pids.slice(i, i + size);
      fromFlat(await n.readLiveTasksFlat(batch, nativeOptions), read);
      report?.({ phase: 'read', done: Math.min(pids.length, i + batch.length), total: pids.length });
    }
    return finish(read);
  });
}

/**
 * A process and its descendants, walked and read at once (the addon's readLiveTreeFlat): each
 * process with its parent's pid (the root's: undefined), zombies left out but for the root.
 * Null, having read nothing, where securebits would be read over ptrace (the tracer is handed
 * the whole list before /proc is read: walk first, with processTree, then readLive).
 */
export async function readLiveTree(
  root: number,
  options: Omit<ReadLiveOptions, 'onProgress'> = {},
): Promise<{ live: LiveProcess[]; tree: { pid: number; parent?: number }[] } | null> {
  const n = native();
  return reading(async () => {
    const flat = await n.readLiveTreeFlat(root, nativeOptionsOf(options));
    if (flat === null) return null;
    const read: Read[] = [];
    fromFlat(flat.tasks, read);
    const tree = read.map((r, i) => (flat.parents[i] === 0 ? { pid: r.process.pid } : { pid: r.process.pid, parent: flat.parents[i] }));
    return { live: await finish(read), tree };
  });
}

function nativeOptionsOf(options: Omit<ReadLiveOptions, 'onProgress'>) {
  return {
    threads: options.threads ?? false,
    unknownSecurebits: options.unknownSecurebits ?? 'fail',
    securebitsReader: options.unknownSecurebits === 'skip' ? undefined : securebitsReader(options.securebitsReader),
    testDelayMs: options.testDelayMs,
  } as const;
}

/** The processes read, into their own terms: each namespace's chain read once. */
async function finish(read: Read[]): Promise<LiveProcess[]> {
  const n = native();
  // One chain per distinct namespace other than ours, read through any one of its tasks.
  const root = (callerNs ??= n.callerUserNsInode());
  const chainsRead = new Map<bigint, Promise<UserNsLevel[]>>();
  for (const r of read) {
    if (r.userNsInode !== root && !chainsRead.has(r.userNsInode)) chainsRead.set(r.userNsInode, n.readUserNsChain(r.process.pid));
  }
  // All awaited at once: a chain that fails while another is awaited is never left unhandled.
  const chains = new Map<bigint, UserNsLevel[]>(
    chainsRead.size === 0 ? [] : await Promise.all([...chainsRead].map(async ([ino, chain]) => [ino, await chain] as const)),
  );
  const none: UserNsLevel[] = [];
  for (const r of read) intoTaskView(r.process, chains.get(r.userNsInode) ?? none);
  return read.map((r) => r.process);
}

/** A read, its errors made the library's own, and the tracer's end put off. */
async function reading<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    // ptrace refuses a zombie: say it exited rather than blame permissions.
    const pid = (e as { pid?: unknown })?.pid;
    const code = (e as { code?: unknown })?.code;
    if ((code === 'ERR_SECUREBITS_UNREADABLE' || code === 'ESRCH') && typeof pid === 'number' && isZombie(pid)) throw exited(pid);
    throw fromNative(e);
  } finally {
    tracerUsed();
  }
}
