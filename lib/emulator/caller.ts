// The calling process as a restarter: its thread creds (as the addon reads them) as an emulator
// cred in the caller's own namespace, which is the root of an image's namespaces. restart()
// judges and plans with it, and the agreement harness compares the emulator against the kernel
// from it: both take it from here.
import type { Cred, UserNamespace } from '../model/types';
import type { ThreadCreds } from '../native/binding';
import { kernelProfile, type KernelProfile } from './profile';

/** The caller's namespace, as the emulator sees it: the root of the image's namespaces. */
const CALLER_NS: UserNamespace = Object.freeze({ creator: null });

const profiles = new Map<number, KernelProfile>();
/** The modern profile for this kernel's last cap, built once. */
export function profileFor(lastCap: number): KernelProfile {
  let p = profiles.get(lastCap);
  if (!p) profiles.set(lastCap, (p = kernelProfile('modern', { lastCap })));
  return p;
}

/** The caller's thread creds as an emulator cred in the caller's namespace. */
export function callerAsRestarter(r: ThreadCreds): Cred {
  return {
    uid: r.uid, euid: r.euid, suid: r.suid, fsuid: r.fsuid,
    gid: r.gid, egid: r.egid, sgid: r.sgid, fsgid: r.fsgid,
    groups: { gids: [...r.groups] },
    user: { uid: r.uid, ns: CALLER_NS },
    caps: { ...r.caps },
    securebits: r.securebits,
  };
}
