// Equality of two creds by value: the question "one cred or two?" (an effective cred that only
// repeats the real one), asked by restart and by the CRIU conversion.
import type { Cred } from './types';

const IDS = ['uid', 'euid', 'suid', 'fsuid', 'gid', 'egid', 'sgid', 'fsgid'] as const;

/** Same ids, groups, user (uid in the same namespace), capability sets, securebits, LSM ref. */
export function sameCred(a: Cred, b: Cred): boolean {
  if (a === b) return true;
  const ga = a.groups.gids;
  const gb = b.groups.gids;
  return (
    IDS.every((k) => a[k] === b[k]) &&
    ga.length === gb.length && ga.every((g, i) => g === gb[i]) &&
    a.user.uid === b.user.uid &&
    a.user.ns === b.user.ns &&
    a.caps.inheritable === b.caps.inheritable &&
    a.caps.permitted === b.caps.permitted &&
    a.caps.effective === b.caps.effective &&
    a.caps.bounding === b.caps.bounding &&
    a.caps.ambient === b.caps.ambient &&
    a.securebits === b.securebits &&
    (a.secRef ?? 0) === (b.secRef ?? 0)
  );
}
