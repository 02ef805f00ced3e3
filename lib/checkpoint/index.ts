// Checkpoint of live processes: their credentials, threads and user-namespace chains, into one
// Image. Uses linux-cr's sys_checkpoint where the kernel has it; otherwise the live state read by
// the addon (/proc, securebits by a BPF task iterator or over ptrace, nsfs ioctls and helpers for
// the namespace chain).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
// The codec's modules one by one, not its index: a checkpoint loads only what it uses.
import { encode } from '../format/encode';
import { ImageEncodeError } from '../format/errors';
import type { Image } from '../format/types';
import { treeDepths } from '../model/tree';
import { native } from '../native/binding';
import { LinuxCrSyscallsUnknown, linuxCrSyscallsHere } from '../native/linux-cr-syscalls';
import { fromNative, NoLinuxCrError, NotExpressibleError } from './errors';
import { buildImage } from './image';
import { readLive, readLiveTree, type CheckpointProgress, type LiveProcess, type SecurebitsReader, type UnknownSecurebits } from './live';
import { processTree } from './tree';
import { resolveTarget, type CheckpointTarget } from './target';

export * from './errors';
export { readLive, type LiveProcess, type LiveCreds, type ReadLiveOptions, type UnknownSecurebits, type SecurebitsReader, type CheckpointProgress } from './live';
export { buildImage, liveHeader } from './image';
export { processTree, type TreeProcess } from './tree';
export { stopTracer } from './tracer';
export type { CheckpointTarget, ChildLike, PidfdTarget } from './target';

export interface CheckpointOptions {
  /** Every thread becomes a task of the image (threads' creds can differ). Default: leaders only. */
  threads?: boolean;
  /** A strictly series-compatible image: refuse (NotExpressibleError) what it cannot hold. */
  compat?: 'linux-cr';
  /**
   * Where securebits cannot be read (ptrace refused): 'fail' (default) or 'mark' them unknown
   * (null); 'skip': never read them (no task is stopped, no BPF loaded), all unknown.
   */
  unknownSecurebits?: UnknownSecurebits;
  /**
   * How securebits are read: 'ptrace' (the task stopped a moment), 'bpf' (never stopped; needs
   * CAP_BPF and CAP_PERFMON), 'auto': BPF where it can be used, else ptrace. Default: the
   * CR_CREDS_SECUREBITS_READER environment variable, else 'auto'.
   */
  securebitsReader?: SecurebitsReader;
  /** 'auto' (default): linux-cr's sys_checkpoint when the kernel has it; 'never': always live. */
  kernel?: 'auto' | 'never';
  /**
   * The linux-cr syscall numbers of this kernel, when the table (by release, checked against
   * /proc/kallsyms) cannot tell them; else the CR_CREDS_LINUX_CR_SYSCALLS environment variable
   * ("CHECKPOINT,RESTART"). Used only on a kernel whose kallsyms shows sys_checkpoint.
   */
  linuxCrSyscalls?: { checkpoint: number; restart: number };
  /**
   * Progress of a live checkpoint: the tree walk (checkpointTree: processes found so far) and the
   * reading of processes (done of total). Not called when the kernel's sys_checkpoint is used.
   */
  onProgress?: (p: CheckpointProgress) => void;
}

function checkCompat(image: Image, options: CheckpointOptions): Image {
  if (options.compat !== 'linux-cr') return image;
  try {
    encode(image, { compat: 'linux-cr' });
  } catch (e) {
    if (e instanceof ImageEncodeError)
      throw new NotExpressibleError(`cannot checkpoint as a linux-cr image: ${e.message}`, 'ERR_NOT_EXPRESSIBLE', undefined, undefined, { cause: e });
    throw e;
  }
  return image;
}

/** The kernel's own checkpoint (linux-cr), decoded. */
async function kernelCheckpoint(pid: number, options: CheckpointOptions): Promise<Image> {
  const { decode } = await import('../format/decode'); // only on a linux-cr kernel
  let nr: number;
  try {
    nr = linuxCrSyscallsHere(options.linuxCrSyscalls).checkpoint;
  } catch (e) {
    if (e instanceof LinuxCrSyscallsUnknown)
      throw new NoLinuxCrError(`the kernel has sys_checkpoint, but its number is not known: ${e.message}`, e.code, pid, undefined, { cause: e });
    throw e;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-'));
  const file = path.join(dir, 'image');
  const fd = fs.openSync(file, 'w+');
  try {
    native().linuxCrCheckpoint(pid, fd, 0, nr);
    return decode(fs.readFileSync(file));
  } catch (e) {
    throw fromNative(e);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether the kernel has linux-cr: asked once (the kernel cannot change under us). */
let linuxCr: boolean | undefined;

function useKernel(options: CheckpointOptions, tasks: number): boolean {
  // The kernel checkpoints one tree from its root; a set of unrelated pids is read live.
  return (options.kernel ?? 'auto') === 'auto' && tasks === 1 && !options.threads && (linuxCr ??= native().linuxCrAvailable());
}

/**
 * Checkpoints the given processes (each with its threads if asked) into one image. Each is a
 * pid, a child this process started (ChildProcess or restart handle) or `{ pidfd }`; a child or a
 * pidfd is checked again after the read, so a pid reused meanwhile is never read instead.
 */
export async function checkpoint(targets: CheckpointTarget | readonly CheckpointTarget[], options: CheckpointOptions = {}): Promise<Image> {
  return checkpointWith(targets, options);
}

/** checkpoint(), also taking the test hook (lib/checkpoint/testing.ts). */
export async function checkpointWith(targets: CheckpointTarget | readonly CheckpointTarget[], options: CheckpointOptions & { testDelayMs?: number }): Promise<Image> {
  const resolved = (Array.isArray(targets) ? targets : [targets as CheckpointTarget]).map(resolveTarget);
  if (resolved.length === 0) throw new RangeError('checkpoint: no pids');
  const list = resolved.map((r) => r.pid);
  const seen = new Set<number>();
  for (const p of list) {
    if (seen.has(p)) throw new RangeError(`checkpoint: pid ${p} given twice`);
    seen.add(p);
  }
  let image: Image;
  if (useKernel(options, list.length)) image = checkCompat(await kernelCheckpoint(list[0], options), options);
  else {
    const live = await readLive(list, options);
    const depth = treeDepths(live.map((p) => ({ pid: p.pid, ppid: p.ppid })));
    image = checkCompat(buildImage(live, { compat: options.compat, depth }), options);
  }
  for (const r of resolved) r.stillThere();
  return image;
}

/**
 * A tree's pids as its root's pid namespace sees them (as the kernel's checkpoint records a
 * container's): a descendant in a nested pid namespace keeps its link to its parent, which its
 * own view (ppid 0, pid 1) would lose. An id with no number at the root's level (a group or
 * session led from outside it) is 0, as the kernel shows it.
 */
function inRootPidNs(live: LiveProcess[], tree: readonly { pid: number; parent?: number }[]): void {
  const root = live.find((p) => p.pid === tree[0].pid);
  if (!root) return;
  const level = root.threads[0].nspid.length - 1;
  const at = (ids: readonly number[]) => ids[level] ?? 0;
  const byPid = new Map(live.map((p) => [p.pid, p]));
  for (const p of live) {
    for (const t of p.threads) {
      t.vpid = at(t.nspid);
      t.vtgid = at(t.nstgid);
    }
    p.vpid = p.threads[0].vpid;
    p.vpgid = at(p.nspgid);
    p.vsid = at(p.nssid);
  }
  for (const e of tree) {
    const p = byPid.get(e.pid);
    const parent = e.parent === undefined ? undefined : byPid.get(e.parent);
    if (p && parent) p.vppid = parent.vpid;
  }
}

/** Checkpoints rootPid and all its descendants (from /proc/PID/task/TID/children) into one image. */
export async function checkpointTree(root: CheckpointTarget, options: CheckpointOptions = {}): Promise<Image> {
  const target = resolveTarget(root);
  const rootPid = target.pid;
  if (useKernel(options, 1)) {
    const image = checkCompat(await kernelCheckpoint(rootPid, options), options);
    target.stillThere();
    return image;
  }
  const report = options.onProgress;
  // Without a listener, and where no tracer reads securebits, walked and read at once.
  const walkedAndRead = report ? null : await readLiveTree(rootPid, options);
  let live: LiveProcess[];
  let tree: { pid: number; parent?: number }[];
  if (walkedAndRead) ({ live, tree } = walkedAndRead);
  else {
    // A zombie descendant (it has exited, or its main thread has) is no live process to read:
    // left out, its children (kept by its other threads) not.
    tree = (await processTree(rootPid, report && ((found) => report({ phase: 'tree', done: found, total: null })))).filter((t, i) => i === 0 || !t.zombie);
    live = await readLive(
      tree.map((t) => t.pid),
      options,
    );
  }
  inRootPidNs(live, tree);
  const image = checkCompat(buildImage(live, { compat: options.compat, depth: treeDepths(tree.map((t) => ({ pid: t.pid, ppid: t.parent }))) }), options);
  target.stillThere();
  return image;
}
