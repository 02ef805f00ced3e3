// The first step of a restart: the image decoded, the task chosen, and what no restart could
// give back refused (an in-kernel override of the cred, ids whose outer id the image does not
// record); with allowPartial, the target cut down to what the caller can restore.
import * as fs from 'fs';
import { sameCred, type Cred, type TaskCreds } from '../model';
import { toKernelId } from '../model/idmap';
import { ID_FIELDS, idKind, OVERFLOW_ID, unmappedIds } from '../model/unmapped';
import { decode, type Image } from '../format';
import type { ThreadCreds } from '../native/binding';
import { RestartUnsupported } from './errors';
import type { RestartOptions } from './options';
import { partialTarget, type Unrestored } from './partial';

/** The task to restore, and the image it is restored from (cut down by allowPartial). */
export interface Target {
  /** The image, with the task replaced by its cut-down self when allowPartial left something out. */
  image: Image;
  /** The bytes the image was given as (null: given decoded). */
  bytes: Uint8Array | null;
  task: number;
  target: TaskCreds;
  unrestored: Unrestored[];
  capLastCap: number;
}

/** Decodes, chooses the task and refuses what no restart can give back. */
export function chooseTarget(input: Image | Uint8Array, opts: RestartOptions, restarter: ThreadCreds): Target {
  const decoded = toImage(input);
  let image = decoded.image;
  const task = selectTask(image, opts);
  let target = image.tasks[task];
  if (!sameCred(target.cred, target.ecred))
    throw new RestartUnsupported(
      `task ${task}: its effective cred differs from its real cred (an in-kernel override); a program started from user space has one cred`,
    );
  const unknown = unknownOuterIds(target.cred);
  if (unknown.length)
    throw new RestartUnsupported(
      `task ${task}: ${unknown.join(', ')}: ${OVERFLOW_ID} for want of a mapping in the task's user namespace, and the image does not record the ids behind it (no UNMAPPED_EXT record): groups or ids with no outer id cannot be restored`,
    );
  const capLastCap = kernelCapLastCap();
  let unrestored: Unrestored[] = [];
  if (opts.allowPartial) {
    const cut = partialTarget(target, restarter, capLastCap);
    unrestored = cut.unrestored;
    if (unrestored.length) {
      target = cut.task;
      image = { ...image, tasks: image.tasks.map((t, i) => (i === task ? target : t)) };
    }
  }
  return { image, bytes: decoded.bytes, task, target, unrestored, capLastCap };
}

function selectTask(image: Image, opts: RestartOptions): number {
  if (image.tasks.length === 0) throw new RestartUnsupported('the image holds no task');
  if (opts.pid !== undefined) {
    const i = image.tasks.findIndex((t) => t.pids.vpid === opts.pid);
    if (i < 0) throw new RestartUnsupported(`the image has no task with pid ${opts.pid}`);
    return i;
  }
  const i = opts.task ?? 0;
  if (!Number.isInteger(i) || i < 0 || i >= image.tasks.length)
    throw new RestartUnsupported(`task ${i}: the image has ${image.tasks.length} task(s)`);
  return i;
}

function toImage(image: Image | Uint8Array): { image: Image; bytes: Uint8Array | null } {
  if (image instanceof Uint8Array) return { image: decode(image), bytes: image };
  return { image, bytes: null };
}

/**
 * Ids the task's namespace does not map whose outer id the image does not record (taken before
 * UNMAPPED_EXT, or by a reader that could not see them): no one can say what to restore.
 */
function unknownOuterIds(c: Cred): string[] {
  const ns = c.user.ns;
  if (!ns.creator || (toKernelId(ns, OVERFLOW_ID, 'uid') >= 0 && toKernelId(ns, OVERFLOW_ID, 'gid') >= 0)) return [];
  const u = unmappedIds(c);
  const out: string[] = [];
  for (const f of ID_FIELDS)
    if (c[f] === OVERFLOW_ID && u?.[f] === undefined && toKernelId(ns, OVERFLOW_ID, idKind(f)) < 0) out.push(f);
  if (c.groups.gids.includes(OVERFLOW_ID) && !u?.groups && toKernelId(ns, OVERFLOW_ID, 'gid') < 0) out.push('groups');
  return out;
}

let capLastCapCache: number | undefined;
/** /proc/sys/kernel/cap_last_cap, read once (the full probe reads /proc/kallsyms: too slow per restart). */
function kernelCapLastCap(): number {
  capLastCapCache ??= Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  return capLastCapCache;
}
