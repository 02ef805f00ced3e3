// The live state of processes, read by the addon and put into the task's own terms: ids
// translated through the user-namespace chain into the task's namespace, groups sorted as the
// kernel keeps them. Nothing here builds the image (see image.ts).
import type { Capabilities, IdMapExtent } from '../model/types';
import { native, type LiveTask, type LiveTasksFlat, type LiveThread, type ReadLiveTasksOptions, type UserNsLevel } from '../native/binding';
import { fromNative } from './errors';
import { translateDown } from './idmap';
import { tracerUsed } from './tracer';

/**
 * Securebits are read inside each task over ptrace (the task is stopped a moment). Where ptrace
 * is refused: 'fail' rejects, 'mark' records them unknown (null). 'skip' does not try: no task is
 * stopped or traced, and every task's securebits are recorded unknown.
 */
export type UnknownSecurebits = 'fail' | 'mark' | 'skip';

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
  /** Tests only: keep each task stopped under ptrace this long. */
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
  /** The leader first. */
  threads: LiveCreds[];
}

function toLiveCreds(t: LiveTask['threads'][number], uidMaps: IdMapExtent[][], gidMaps: IdMapExtent[][]): LiveCreds {
  const u = (id: number) => translateDown(uidMaps, id);
  const g = (id: number) => translateDown(gidMaps, id);
  return {
    tid: t.tid,
    vpid: t.nspid[t.nspid.length - 1],
    vtgid: t.nstgid[t.nstgid.length - 1],
    uid: u(t.uids[0]),
    euid: u(t.uids[1]),
    suid: u(t.uids[2]),
    fsuid: u(t.uids[3]),
    gid: g(t.gids[0]),
    egid: g(t.gids[1]),
    sgid: g(t.gids[2]),
    fsgid: g(t.gids[3]),
    // The kernel sorts by kgid; the task's view of them may order differently.
    groups: [...new Set(t.groups.map(g))].sort((a, b) => a - b),
    caps: { ...t.caps },
    securebits: t.securebits,
    noNewPrivs: t.noNewPrivs,
  };
}

/** readLiveTasks's objects, made here from its flat answer (see LiveTasksFlat). */
function unflatten({ nums: f, bigs: b, strings }: LiveTasksFlat): LiveTask[] {
  let i = 0;
  let k = 0;
  const list = (): number[] => {
    const n = f[i++];
    const a = new Array<number>(n);
    for (let x = 0; x < n; x++) a[x] = f[i++];
    return a;
  };
  const out: LiveTask[] = [];
  while (i < f.length) {
    const pid = f[i++];
    const vpid = f[i++];
    const vtgid = f[i++];
    const vppid = f[i++];
    const vpgid = f[i++];
    const vsid = f[i++];
    const nthreads = f[i++];
    const userNsInode = b[k++];
    const threads: LiveThread[] = [];
    for (let t = 0; t < nthreads; t++) {
      const tid = f[i++];
      const securebits = f[i++];
      const error = f[i++];
      const th: LiveThread = {
        state: String.fromCharCode(f[i++]),
        tgid: f[i++],
        pid: f[i++],
        ppid: f[i++],
        tracerPid: f[i++],
        uids: [f[i++], f[i++], f[i++], f[i++]],
        gids: [f[i++], f[i++], f[i++], f[i++]],
        noNewPrivs: f[i++] === 1,
        groups: list(),
        nstgid: list(),
        nspid: list(),
        nspgid: list(),
        nssid: list(),
        caps: { inheritable: b[k++], permitted: b[k++], effective: b[k++], bounding: b[k++], ambient: b[k++] },
        tid,
        securebits: securebits < 0 ? null : securebits,
      };
      if (error >= 0) th.securebitsError = strings[error];
      threads.push(th);
    }
    out.push({ pid, userNsInode, vpid, vtgid, vppid, vpgid, vsid, threads });
  }
  return out;
}

const readLiveTasks = async (pids: number[], options: ReadLiveTasksOptions): Promise<LiveTask[]> =>
  unflatten(await native().readLiveTasksFlat(pids, options));

/** Our own user namespace, read once: a process with more than one thread (Node always has
 *  several) can neither unshare nor setns its user namespace. */
let callerNs: bigint | undefined;

/** Reads processes (and their threads when asked) and their user-namespace chains. */
export async function readLive(pids: readonly number[], options: ReadLiveOptions = {}): Promise<LiveProcess[]> {
  const n = native();
  try {
    const nativeOptions = {
      threads: options.threads ?? false,
      unknownSecurebits: options.unknownSecurebits ?? 'fail',
      testDelayMs: options.testDelayMs,
    } as const;
    // With a listener, the same reads in the same order a batch at a time, so that it hears of
    // each batch; without one, a single batch.
    const report = options.onProgress;
    const size = report ? PROGRESS_BATCH : Math.max(1, pids.length);
    const tasks: LiveTask[] = [];
    report?.({ phase: 'read', done: 0, total: pids.length });
    for (let i = 0; i < pids.length; i += size) {
      const batch = pids.slice(i, i + size);
      for (const t of await readLiveTasks(batch, nativeOptions)) tasks.push(t);
      report?.({ phase: 'read', done: Math.min(pids.length, i + batch.length), total: pids.length });
    }
    // One chain per distinct namespace, read through any one of its tasks.
    const root = (callerNs ??= n.callerUserNsInode());
    const chains = new Map<bigint, Promise<UserNsLevel[]>>();
    for (const t of tasks) {
      if (chains.has(t.userNsInode)) continue;
      chains.set(t.userNsInode, t.userNsInode === root ? Promise.resolve([]) : n.readUserNsChain(t.pid));
    }
    const out: LiveProcess[] = [];
    for (const t of tasks) {
      const chain = await chains.get(t.userNsInode)!;
      const uidMaps = chain.map((l) => l.uidMap);
      const gidMaps = chain.map((l) => l.gidMap);
      out.push({
        pid: t.pid,
        chain,
        vpid: t.vpid,
        vppid: t.vppid,
        vpgid: t.vpgid,
        vsid: t.vsid,
        ppid: t.threads[0].ppid,
        threads: t.threads.map((th) => toLiveCreds(th, uidMaps, gidMaps)),
      });
    }
    return out;
  } catch (e) {
    throw fromNative(e);
  } finally {
    tracerUsed();
  }
}
