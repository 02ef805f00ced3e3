// The one-task image an import produces: the creds a runtime sets right before it execs.
import { ImageBuilder } from '../format/builder';
import type { Image } from '../format/types';
import type { Capabilities, IdMapExtent } from '../model/types';

export interface ImportedIdentity {
  uid: number;
  gid: number;
  groups: readonly number[];
  caps: Capabilities;
  securebits: number;
  noNewPrivs: boolean;
  /** A user namespace one level below the restarter's, created by `creatorUid`. */
  userns?: { creatorUid: number; uidMap?: readonly IdMapExtent[]; gidMap?: readonly IdMapExtent[]; setgroups?: 'allow' | 'deny' };
}

export function identityImage(id: ImportedIdentity): Image {
  const b = new ImageBuilder();
  const ns = id.userns
    ? b.namespace(b.user(id.userns.creatorUid), { uidMap: id.userns.uidMap, gidMap: id.userns.gidMap, setgroups: id.userns.setgroups })
    : b.rootNs;
  const cred = b.cred({ uid: id.uid, gid: id.gid, groups: id.groups, user: b.user(id.uid, ns), caps: id.caps, securebits: id.securebits });
  b.task(cred, { noNewPrivs: id.noNewPrivs, pids: { vpid: 1, vppid: 0, vtgid: 1, vpgid: 1, vsid: 1 } });
  return b.build();
}

/** A u32 id from spec input, or an InteropError naming where. */
export function u32(v: unknown, where: string, fail: (m: string) => Error): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw fail(`${where}: expected an id (0..4294967295), got ${JSON.stringify(v)}`);
  return v;
}
