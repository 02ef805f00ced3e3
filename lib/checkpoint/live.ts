// The live state of processes, read by the addon and put into the task's own terms: ids
// translated through the user-namespace chain into the task's namespace, groups sorted as the
// kernel keeps them. Nothing here builds the image (see image.ts).
import type { Capabilities, IdMapExtent } from '../model/types';
import { native, type LiveTask, type UserNsLevel } from '../native/binding';
import { fromNative } from './errors';
import { translateDown } from './idmap';

export type UnknownSecurebits = 'fail' | 'mark';

export interface ReadLiveOptions {
  threads?: boolean;
  unknownSecurebits?: UnknownSecurebits;
  /** Tests only: keep each task stopped under ptrace this long. */
  testDelayMs?: number;
}

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

/** Reads processes (and their threads when asked) and their user-namespace chains. */
export async function readLive(pids: readonly number[], options: ReadLiveOptions = {}): Promise<LiveProcess[]> {
  const n = native();
  try {
    const tasks = await n.readLiveTasks([...pids], {
      threads: options.threads ?? false,
      unknownSecurebits: options.unknownSecurebits ?? 'fail',
      testDelayMs: options.testDelayMs,
    });
    // One chain per distinct namespace, read through any one of its tasks.
    const root = n.callerUserNsInode();
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
        threads: t.threads.map((th) => toLiveCreds(th, uidMaps, gidMaps)),
      });
    }
    return out;
  } catch (e) {
    throw fromNative(e);
  }
}
