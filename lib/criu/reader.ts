// Reads the credential-bearing part of a CRIU dump directory.
import * as path from 'path';
import { MAX_ID_EXTENTS, NGROUPS_MAX, PID_MAX_LIMIT } from '../format/constants';
import { CriuImageError } from './errors';
import { readCriuFile } from './framing';
import { treeDepths } from '../model/tree';
import type { CriuDump, CriuTask, CriuUserns } from './dump';
import type { CredsEntry, PstreeEntry, TaskKobjIdsEntry, UsernsEntry } from './schema';

/** Reads inventory.img, pstree.img, core-TID.img (and ids-PID.img, userns-ID.img) of a dump. */
export async function readCriuDir(dir: string): Promise<CriuDump> {
  const file = (name: string): string => path.join(dir, name);

  const invFile = file('inventory.img');
  const inventory = exactlyOne(await readCriuFile(invFile, 'inventory'), invFile, 'inventory_entry');

  const treeFile = file('pstree.img');
  const tree = new TreeCheck(treeFile);
  const pstree = await readCriuFile(treeFile, 'pstree', (p, i) => tree.entry(p, i));
  if (pstree.length === 0)
    throw new CriuImageError('missing-entry', treeFile, 8, 'no pstree_entry: the dump has no task');
  tree.links(pstree);

  const tasks: CriuTask[] = [];
  for (const p of pstree) {
    const ids = await readIds(file(`ids-${p.pid}.img`));
    const threads = p.threads && p.threads.length > 0 ? p.threads : [p.pid];
    for (const tid of threads) {
      const coreFile = file(`core-${tid}.img`);
      const core = exactlyOne(await readCriuFile(coreFile, 'core'), coreFile, 'core_entry');
      const creds = core.thread_core?.creds ?? (await readLegacyCreds(file(`creds-${tid}.img`), coreFile));
      checkCreds(creds, coreFile);
      const taskIds = ids ?? core.ids;
      tasks.push({
        pid: p.pid,
        tid,
        ppid: p.ppid,
        pgid: p.pgid,
        sid: p.sid,
        mtype: core.mtype,
        creds,
        ...(taskIds ? { ids: taskIds } : {}),
      });
    }
  }

  // CRIU writes userns-ID.img for the tree's user namespace when it is not CRIU's own; CRIU's
  // own namespaces are the inventory's root_ids.
  const hostNs = inventory.root_ids?.user_ns_id;
  const userns: CriuUserns[] = [];
  const nsIds = new Set<number>();
  for (const t of tasks) if (t.ids?.user_ns_id !== undefined && t.ids.user_ns_id !== hostNs) nsIds.add(t.ids.user_ns_id);
  for (const id of nsIds) {
    const nsFile = file(`userns-${id}.img`);
    let entries: UsernsEntry[];
    try {
      entries = await readCriuFile(nsFile, 'userns');
    } catch (e) {
      // Without root_ids (images before CRIU 1.x) the host's namespace is not known: absent is fine.
      if (hostNs === undefined && e instanceof CriuImageError && e.rule === 'missing-file') continue;
      throw e;
    }
    const entry = exactlyOne(entries, nsFile, 'userns_entry');
    for (const [key, map] of [['uid_map', entry.uid_map], ['gid_map', entry.gid_map]] as const)
      if ((map?.length ?? 0) > MAX_ID_EXTENTS)
        throw new CriuImageError('inconsistent', nsFile, 8, `${key} has ${map!.length} extents; the kernel allows ${MAX_ID_EXTENTS}`, 0);
    userns.push({ id, entry });
  }
  return { inventory, pstree, tasks, userns };
}

function exactlyOne<T>(entries: T[], file: string, what: string): T {
  if (entries.length === 0) throw new CriuImageError('missing-entry', file, 0, `no ${what}`);
  if (entries.length > 1)
    throw new CriuImageError('extra-entry', file, 0, `${entries.length} ${what} entries, expected one`, 1);
  return entries[0];
}

/** ids-PID.img is absent in images older than CRIU 1.3 (ids lived in CoreEntry.ids). */
async function readIds(file: string): Promise<TaskKobjIdsEntry | undefined> {
  try {
    return exactlyOne(await readCriuFile(file, 'ids'), file, 'task_kobj_ids_entry');
  } catch (e) {
    if (e instanceof CriuImageError && e.rule === 'missing-file') return undefined;
    throw e;
  }
}

/** Before per-thread creds (CRIU < 2.x) the creds sat in creds-PID.img. */
async function readLegacyCreds(file: string, coreFile: string): Promise<CredsEntry> {
  try {
    return exactlyOne(await readCriuFile(file, 'creds'), file, 'creds_entry');
  } catch (e) {
    if (e instanceof CriuImageError && e.rule === 'missing-file')
      throw new CriuImageError(
        'inconsistent',
        coreFile,
        0,
        'core_entry has no thread_core.creds and there is no creds image',
      );
    throw e;
  }
}

/** The kernel's limits on what a creds entry can hold. */
function checkCreds(c: CredsEntry, file: string): void {
  if ((c.groups?.length ?? 0) > NGROUPS_MAX)
    throw new CriuImageError('inconsistent', file, 0, `creds_entry has ${c.groups!.length} groups; NGROUPS_MAX is ${NGROUPS_MAX}`, 0);
}

const validPid = (n: number): boolean => n > 0 && n <= PID_MAX_LIMIT;

/**
 * Ids within the kernel's pid range, pids and thread ids unique across the tree, each process among
 * its own threads (checked entry by entry as the pstree is read, so a hostile file stops at its
 * first bad entry), then every parent either 0 (the root's) or a process of the tree, no cycle.
 * Linear in the number of entries (a hostile pstree of a million entries must not take quadratic
 * time).
 */
class TreeCheck {
  private readonly byPid = new Map<number, number>();
  private readonly tids = new Set<number>();
  constructor(private readonly file: string) {}

  private bad(i: number, detail: string): CriuImageError {
    return new CriuImageError('inconsistent', this.file, 0, detail, i);
  }

  entry(p: PstreeEntry, i: number): void {
    if (!validPid(p.pid)) throw this.bad(i, `pid ${p.pid} is outside 1..${PID_MAX_LIMIT}`);
    // 0: the root's parent, or a group or session led from outside the dumped pid namespace.
    for (const [what, v] of [['ppid', p.ppid], ['pgid', p.pgid], ['sid', p.sid]] as const)
      if (v !== 0 && !validPid(v)) throw this.bad(i, `${what} ${v} is outside 0..${PID_MAX_LIMIT}`);
    if (this.byPid.has(p.pid)) throw this.bad(i, `pid ${p.pid} listed twice`);
    this.byPid.set(p.pid, i);
    const threads = p.threads && p.threads.length > 0 ? p.threads : [p.pid];
    if (!threads.includes(p.pid)) throw this.bad(i, `pid ${p.pid} is not among its threads`);
    for (const t of threads) {
      if (!validPid(t)) throw this.bad(i, `thread ${t} is outside 1..${PID_MAX_LIMIT}`);
      if (this.tids.has(t)) throw this.bad(i, `thread ${t} listed twice`);
      this.tids.add(t);
    }
  }

  links(pstree: PstreeEntry[]): void {
    pstree.forEach((p, i) => {
      if (p.ppid !== 0 && !this.byPid.has(p.ppid)) throw this.bad(i, `pid ${p.pid}: parent ${p.ppid} is not in the tree`);
    });
    treeDepths(pstree, (pid) => {
      throw this.bad(this.byPid.get(pid)!, `pid ${pid}: parent chain loops`);
    });
  }
}
