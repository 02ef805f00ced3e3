// Helpers for emulator tests: tasks built from readable descriptions, and a comparison of creds
// that ignores namespace object identity (restored namespaces are new objects).
import { fullCapSet } from '../../lib/model/capabilities';
import type { CredOp } from '../../lib/model/ops';
import type { Cred, GroupInfo, UserNamespace } from '../../lib/model/types';
import { Emulator, type EmuTask } from '../../lib/emulator';

export interface Who {
  uid?: number;
  euid?: number;
  suid?: number;
  fsuid?: number;
  gid?: number;
  egid?: number;
  sgid?: number;
  fsgid?: number;
  groups?: number[];
  inh?: bigint;
  prm?: bigint;
  eff?: bigint;
  bnd?: bigint;
  amb?: bigint;
  bits?: number;
  ns?: UserNamespace;
}

export function makeCred(emu: Emulator, w: Who): Cred {
  const uid = w.uid ?? 1000;
  const gid = w.gid ?? 1000;
  const euid = w.euid ?? uid;
  const egid = w.egid ?? gid;
  const ns = w.ns ?? emu.initNs;
  const groups: GroupInfo = { gids: [...new Set(w.groups ?? [])].sort((a, b) => a - b) };
  return {
    uid, euid, suid: w.suid ?? uid, fsuid: w.fsuid ?? euid,
    gid, egid, sgid: w.sgid ?? gid, fsgid: w.fsgid ?? egid,
    groups, user: emu.user(uid, ns),
    caps: {
      inheritable: w.inh ?? 0n,
      permitted: w.prm ?? 0n,
      effective: w.eff ?? w.prm ?? 0n,
      bounding: w.bnd ?? fullCapSet(emu.profile.lastCap),
      ambient: w.amb ?? 0n,
    },
    securebits: w.bits ?? 0,
  };
}

export function task(emu: Emulator, w: Who, nnp = false): EmuTask {
  return emu.spawnTask(makeCred(emu, w), { noNewPrivs: nnp });
}

export function run(emu: Emulator, t: EmuTask, op: CredOp) {
  return emu.apply(t, op);
}

/** A namespace chain as plain data: creator uids and maps, outermost first. */
export function nsShape(ns: UserNamespace): unknown[] {
  const out: unknown[] = [];
  for (let cur: UserNamespace | null = ns; cur && cur.creator; cur = cur.creator.ns) {
    out.unshift({ creator: cur.creator.uid, uidMap: cur.uidMap ?? null, gidMap: cur.gidMap ?? null, setgroups: cur.setgroups ?? 'allow' });
  }
  return out;
}

/** A cred as plain data (namespaces by shape), for toEqual. */
export function credShape(c: Cred): Record<string, unknown> {
  return {
    ids: [c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid],
    groups: [...c.groups.gids],
    user: c.user.uid,
    ns: nsShape(c.user.ns),
    caps: { ...c.caps },
    securebits: c.securebits,
  };
}

export const bit = (n: number): bigint => 1n << BigInt(n);
