// execve()'s credential computation (security/commoncap.c cap_bprm_creds_from_file and
// fs/exec.c bprm_fill_uid): what a program really runs with.
import type { ExecFile } from '../model/ops';
import type { Cred } from '../model/types';
import { SECBIT, subset } from './caps';
import type { KernelProfile } from './profile';
import { type IdField, idKey, moveUnmapped, unmappedIds, withUnmapped } from '../model/unmapped';
import { kernelId, parentNs } from '../model/idmap';

export class ExecDenied extends Error {
  override name = 'ExecDenied';
  readonly code = 'ERR_EXEC_DENIED';
  constructor(
    readonly errno: string,
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ExecResult {
  cred: Cred;
  /** Rules that shaped the result, in order (for steps). */
  rules: string[];
}

function fileCapsApply(cred: Cred, rootid: number | undefined, profile: KernelProfile): boolean {
  if (!profile.idMaps || rootid === undefined || rootid === 0) return true;
  // VFS_CAP_REVISION_3: the caps apply only where rootid is uid 0 of the caller's namespace or of
  // one of its ancestors (rootid_owns_currentns). rootid is a kernel (initial-namespace) uid.
  for (let ns: Cred['user']['ns'] | null = cred.user.ns; ns; ns = parentNs(ns)) {
    if (kernelId(ns, 0, 'uid') === rootid) return true;
  }
  return false;
}

/** in_group_p: `gid` is a key (idKey), compared with the fsgid's and the groups' kernel ids. */
function inGroup(c: Cred, gid: number): boolean {
  return gid === idKey(c, 'fsgid') || (unmappedIds(c)?.groups ?? c.groups.gids).includes(gid);
}

/** The creds after execve of `file` (undefined: a plain file). Throws ExecDenied. */
export function computeExec(cred: Cred, noNewPrivs: boolean, file: ExecFile | undefined, profile: KernelProfile): ExecResult {
  const rules: string[] = [];
  const old = cred;
  const nnp = profile.noNewPrivs && noNewPrivs;
  let euid = old.euid;
  let egid = old.egid;
  // Where the new euid / egid come from: the old cred's field (an unmapped id stays its kernel
  // id, lib/model/unmapped.ts unmappedIds), or null for the file's owner (mapped).
  let euidFrom: IdField | null = 'euid';
  let egidFrom: IdField | null = 'egid';
  // bprm_fill_uid: set-id bits, ignored under no_new_privs and for ids with no mapping.
  if (file && (file.setuid || file.setgid)) {
    if (nnp) rules.push('execve.setid-ignored-no-new-privs');
    else {
      // bprm_fill_uid: both owner ids must be mapped, whichever bit is set.
      const ownerUid = file.setuid ? file.setuid.uid : file.owner?.uid;
      const ownerGid = file.setgid ? file.setgid.gid : file.owner?.gid;
      const mapped =
        !profile.idMaps ||
        ((ownerUid === undefined || kernelId(old.user.ns, ownerUid, 'uid') >= 0) &&
          (ownerGid === undefined || kernelId(old.user.ns, ownerGid, 'gid') >= 0));
      if (!mapped) rules.push('execve.setid-unmapped-ignored');
      else {
        if (file.setuid) [euid, euidFrom] = [file.setuid.uid, null];
        if (file.setgid) [egid, egidFrom] = [file.setgid.gid, null];
        rules.push('execve.setid');
      }
    }
  }
  const inh = old.caps.inheritable;
  const bset = old.caps.bounding;
  let permitted = 0n;
  let effective = false;
  let hasFcap = false;
  const fc = file?.fileCaps;
  if (fc && fileCapsApply(old, fc.rootid, profile)) {
    hasFcap = true;
    effective = fc.effective;
    // pP' = (X & fP) | (pI & fI)
    permitted = (bset & fc.permitted) | (inh & fc.inheritable);
    if (effective && !subset(fc.permitted, permitted)) {
      throw new ExecDenied(
        'EPERM',
        'execve.fcaps-effective-incomplete',
        'execve refused: the file has effective file capabilities that the bounding set does not allow',
      );
    }
    rules.push('execve.file-caps');
  } else if (fc) rules.push('execve.file-caps-rootid-foreign');
  // Root's special case: the file counts as having every capability.
  if (!(old.securebits !== null && old.securebits & SECBIT.NOROOT)) {
    const isSuidRoot = euid === 0 && old.uid !== 0;
    if (hasFcap && isSuidRoot) rules.push('execve.root-setuid-with-fcaps');
    else {
      if (euid === 0 || old.uid === 0) {
        permitted = bset | inh;
        rules.push('execve.root-all-caps');
      }
      if (euid === 0) effective = true;
    }
  } else rules.push('execve.secbit-noroot');
  let ambient = profile.ambient ? old.caps.ambient : 0n;
  // id_changed (today's kernels): a new euid, or an egid the task is not in (in_group_p: fsgid
  // or a supplementary group). The kernel agrees on this (test/agreement). Kernel ids compared:
  // an unmapped egid is in no group but one of the same kernel gid.
  const key = (v: number, from: IdField | null): number => (from ? idKey(old, from) : v);
  const idChanged = key(euid, euidFrom) !== idKey(old, 'euid') || !inGroup(old, key(egid, egidFrom));
  const gained = !subset(permitted, old.caps.permitted);
  if (nnp && (idChanged || gained)) {
    // LSM_UNSAFE_NO_NEW_PRIVS: no more than it had.
    [euid, euidFrom] = [old.uid, 'uid'];
    [egid, egidFrom] = [old.gid, 'gid'];
    permitted &= old.caps.permitted;
    rules.push('execve.no-new-privs-downgrade');
  }
  if (profile.ambient) {
    if (hasFcap || idChanged) {
      if (ambient !== 0n) rules.push('execve.ambient-cleared');
      ambient = 0n;
    }
    permitted |= ambient;
  }
  const eff = effective ? permitted : ambient;
  const securebits = old.securebits === null ? null : old.securebits & ~SECBIT.KEEP_CAPS;
  const next: Cred = {
    ...old,
    euid,
    suid: euid,
    fsuid: euid,
    egid,
    sgid: egid,
    fsgid: egid,
    caps: { inheritable: inh, permitted, effective: eff, bounding: bset, ambient },
    securebits,
  };
  const u = unmappedIds(old);
  if (u) withUnmapped(next, moveUnmapped(u, { euid: euidFrom, suid: euidFrom, fsuid: euidFrom, egid: egidFrom, sgid: egidFrom, fsgid: egidFrom }));
  return { cred: next, rules };
}

/** The creds a program really runs with after execve (throws ExecDenied when execve fails). */
export function predictExec(cred: Cred, noNewPrivs: boolean, file: ExecFile | undefined, profile: KernelProfile): Cred {
  return computeExec(cred, noNewPrivs, file, profile).cred;
}
