// Live state into an Image, through ImageBuilder (the object hash): equal creds, group lists,
// users and namespaces are one object each, so the image writes them once.
import * as os from 'os';
import { Arch } from '../format/constants';
import { ImageBuilder } from '../format/builder';
import type { ImageHeader } from '../format/types';
import type { Image } from '../format';
import type { UserNamespace } from '../model/types';
import type { UserNsLevel } from '../native/binding';
import type { LiveProcess } from './live';

let machineHeader: Partial<ImageHeader> | undefined;

/**
 * The header of an image of this machine's live state (the time is set as the image is built).
 * Read once: uname cannot change under a running process, and three uname calls per checkpoint
 * cost more than building a small image.
 */
export function liveHeader(): Partial<ImageHeader> {
  if (!machineHeader) {
    const [major = 0, minor = 0, patch = 0] = (os.release().match(/^(\d+)\.(\d+)(?:\.(\d+))?/) ?? [])
      .slice(1)
      .map((s) => Number(s ?? 0));
    const arch = { x64: Arch.X86_64, ia32: Arch.X86_32, s390x: Arch.S390X, arm: Arch.ARM } as Record<string, number>;
    machineHeader = {
      arch: arch[process.arch] ?? Arch.X86_64,
      byteOrder: os.endianness() === 'LE' ? 'little' : 'big',
      kernel: { major, minor, patch, rev: 0 },
      uts: { release: os.release(), version: os.version(), machine: os.machine() },
    };
  }
  return { ...machineHeader, kernel: { ...machineHeader.kernel! }, uts: { ...machineHeader.uts! } };
}

export interface BuildOptions {
  /** Leave out what only extension records carry when it is mere identification (inodes). */
  compat?: 'linux-cr';
  /** Tree depth of each process (default 0). */
  depth?: ReadonlyMap<number, number>;
}

/** One image with every process (and, when read, every thread as a task of its own). */
export function buildImage(processes: readonly LiveProcess[], options: BuildOptions = {}): Image {
  const b = new ImageBuilder({ header: liveHeader() });
  // Interned here by inode as well, so that compat images (no inode) still share namespaces.
  const nsByInode = new Map<bigint, UserNamespace>();
  const nsOf = (chain: readonly UserNsLevel[]): UserNamespace => {
    let ns = b.rootNs;
    for (const level of chain) {
      const known = nsByInode.get(level.inode);
      if (known) {
        ns = known;
        continue;
      }
      const creator = b.user(level.ownerUid, ns);
      ns = b.namespace(creator, {
        uidMap: level.uidMap,
        gidMap: level.gidMap,
        setgroups: level.setgroups,
        inode: options.compat ? undefined : level.inode,
      });
      nsByInode.set(level.inode, ns);
    }
    return ns;
  };
  for (const p of processes) {
    const ns = nsOf(p.chain);
    const depth = options.depth?.get(p.pid) ?? 0;
    for (const t of p.threads) {
      const cred = b.cred({
        uid: t.uid,
        euid: t.euid,
        suid: t.suid,
        fsuid: t.fsuid,
        gid: t.gid,
        egid: t.egid,
        sgid: t.sgid,
        fsgid: t.fsgid,
        groups: b.groups(t.groups),
        user: b.user(t.uid, ns),
        caps: t.caps,
        securebits: t.securebits,
        ...(t.unmapped ? { unmapped: t.unmapped } : {}),
      });
      // /proc shows the objective (real) cred only: no override is visible from outside.
      b.task(cred, {
        pids: { vpid: t.vpid, vtgid: t.vtgid, vppid: p.vppid, vpgid: p.vpgid, vsid: p.vsid, depth },
        noNewPrivs: t.noNewPrivs,
      });
    }
  }
  return b.build();
}
