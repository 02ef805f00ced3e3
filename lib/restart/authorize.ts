// Who may restart what, decided before anything is started: every change is judged against the
// restarter's creds as they are now (the seed's principle 2), with today's kernel's rules where
// a live restart differs (setgroups needs CAP_SETGID at all; maps follow user_namespaces(7)).
// Every refused step is listed, not just the first. The emulator (lib/emulator) is the fuller
// model; this is what restart uses when it cannot run (see restart.ts).
import { CAP, SECBIT, capNames, hasCap, securebitNames, type Cred } from '../model';
import type { Restarter } from './plan';
import { firstLevelMaps, mapToRoot, nsChain, type MapHelpers } from './chain';
import type { Step } from './errors';

const LOCK_PAIRS: readonly [number, number][] = [
  [SECBIT.NOROOT, SECBIT.NOROOT_LOCKED],
  [SECBIT.NO_SETUID_FIXUP, SECBIT.NO_SETUID_FIXUP_LOCKED],
  [SECBIT.KEEP_CAPS, SECBIT.KEEP_CAPS_LOCKED],
  [SECBIT.NO_CAP_AMBIENT_RAISE, SECBIT.NO_CAP_AMBIENT_RAISE_LOCKED],
  [SECBIT.EXEC_RESTRICT_FILE, SECBIT.EXEC_RESTRICT_FILE_LOCKED],
  [SECBIT.EXEC_DENY_INTERACTIVE, SECBIT.EXEC_DENY_INTERACTIVE_LOCKED],
];

function ok(op: string, rule: string, message: string, task?: number): Step {
  return { task, op, rule, allowed: true, message };
}
function no(op: string, rule: string, message: string, task?: number, errno = 'EPERM'): Step {
  return { task, op, rule, allowed: false, errno, message };
}

/** Steps of restoring `target` (task `task`) by `r`; any with allowed=false means a denial. */
export function authorize(target: Cred, noNewPrivs: boolean, r: Restarter, task?: number, idmap?: MapHelpers): Step[] {
  const steps: Step[] = [];
  const eff = r.caps.effective;
  const setuid = hasCap(eff, CAP.SETUID);
  const setgid = hasCap(eff, CAP.SETGID);
  const setpcap = hasCap(eff, CAP.SETPCAP);
  const rUids = [r.uid, r.euid, r.suid];
  const rGids = [r.gid, r.egid, r.sgid];
  const levels = nsChain(target);

  // Namespaces: the first level's maps are written by the restarter itself (as the creator).
  levels.forEach((l, i) => {
    const what = `user namespace ${i + 1} (creator uid ${l.creatorUid})`;
    if (i > 0) {
      steps.push(ok('unshare_user', 'userns-nested', `${what}: created and mapped from inside the level above, as its owner`, task));
      return;
    }
    if (!setuid && !rUids.includes(l.creatorUid))
      steps.push(no('setresuid', 'userns-creator', `${what}: the creator uid ${l.creatorUid} is not one of the caller's uids and the caller lacks CAP_SETUID`, task));
    // The maps: the caller's own map writer, or newuidmap / newgidmap where it may not (chain.ts).
    for (const f of firstLevelMaps(l, r, idmap).refused) steps.push(no('unshare_user', f.rule, `${what}: ${f.message}`, task));
  });
  if (levels.length > 0 && steps.every((s) => s.allowed))
    steps.push(ok('unshare_user', 'userns', `${levels.length} user namespace level(s) can be created and mapped`, task));

  // Ids and groups: inside a namespace the creator holds every capability; the ids that matter
  // to the caller are the outer ones of the first level (checked above) and the groups.
  const outerGroups = target.groups.gids.map((g) => (levels.length ? mapToRoot(levels, g, 'gid') : g));
  if (levels.length === 0) {
    const uids = { uid: target.uid, euid: target.euid, suid: target.suid };
    const foreignU = Object.entries(uids).filter(([, v]) => !rUids.includes(v));
    if (!setuid && foreignU.length)
      steps.push(no('setresuid', 'setresuid', `${foreignU.map(([k, v]) => `${k} ${v}`).join(', ')}: not one of the caller's uids (${rUids.join('/')}) and the caller lacks CAP_SETUID`, task));
    else steps.push(ok('setresuid', 'setresuid', `uids ${target.uid}/${target.euid}/${target.suid}`, task));
    if (!setuid && ![...rUids, r.fsuid].includes(target.fsuid))
      steps.push(no('setfsuid', 'setfsuid', `fsuid ${target.fsuid}: not one of the caller's uids and the caller lacks CAP_SETUID`, task));
    const gids = { gid: target.gid, egid: target.egid, sgid: target.sgid };
    const foreignG = Object.entries(gids).filter(([, v]) => !rGids.includes(v));
    if (!setgid && foreignG.length)
      steps.push(no('setresgid', 'setresgid', `${foreignG.map(([k, v]) => `${k} ${v}`).join(', ')}: not one of the caller's gids (${rGids.join('/')}) and the caller lacks CAP_SETGID`, task));
    else steps.push(ok('setresgid', 'setresgid', `gids ${target.gid}/${target.egid}/${target.sgid}`, task));
    if (!setgid && ![...rGids, r.fsgid].includes(target.fsgid))
      steps.push(no('setfsgid', 'setfsgid', `fsgid ${target.fsgid}: not one of the caller's gids and the caller lacks CAP_SETGID`, task));
  }
  const unmapped = target.groups.gids.filter((_, i) => outerGroups[i] === undefined);
  if (unmapped.length) steps.push(no('setgroups', 'groups-mapped', `groups ${unmapped.join(', ')} have no id outside the image's namespaces`, task, 'EINVAL'));
  const wantGroups = [...new Set(outerGroups.filter((g): g is number => g !== undefined))].sort((a, b) => a - b);
  const same = wantGroups.length === r.groups.length && wantGroups.every((g, i) => g === r.groups[i]);
  if (!same && !setgid) {
    const foreign = wantGroups.filter((g) => g !== r.egid && !r.groups.includes(g));
    steps.push(no('setgroups', 'setgroups', foreign.length
      ? `groups ${foreign.join(', ')} are not the caller's and the caller lacks CAP_SETGID`
      : `the group list differs from the caller's (${r.groups.join(',') || 'none'}) and setgroups(2) needs CAP_SETGID`, task));
  } else if (!same) steps.push(ok('setgroups', 'setgroups', `groups ${target.groups.gids.join(',') || '(none)'}`, task));

  // Capabilities: judged against the caller's sets when the cred lives in the caller's
  // namespace; inside a new namespace the creator's full set bounds them.
  if (levels.length === 0) {
    const c = target.caps;
    const extraP = c.permitted & ~r.caps.permitted;
    if (extraP) steps.push(no('capset', 'capset-permitted', `permitted ${capNames(extraP).join(', ')}: not in the caller's permitted set`, task));
    const extraIp = c.inheritable & ~(r.caps.inheritable | r.caps.permitted);
    if (extraIp && !setpcap) steps.push(no('capset', 'capset-inheritable', `inheritable ${capNames(extraIp).join(', ')}: not in the caller's inheritable or permitted set, and the caller lacks CAP_SETPCAP`, task));
    const extraIb = c.inheritable & ~(r.caps.inheritable | r.caps.bounding);
    if (extraIb) steps.push(no('capset', 'capset-inheritable-bounding', `inheritable ${capNames(extraIb).join(', ')}: beyond the caller's bounding set`, task));
    if (c.effective & ~c.permitted) steps.push(no('capset', 'capset-effective', `effective ${capNames(c.effective & ~c.permitted).join(', ')}: not in the image's own permitted set`, task));
    if (!extraP && !(extraIp && !setpcap) && !extraIb && !(c.effective & ~c.permitted))
      steps.push(ok('capset', 'capset', `permitted ${capNames(c.permitted).join(', ') || '(none)'}`, task));
    const lacking = c.bounding & ~r.caps.bounding;
    if (lacking) steps.push(no('capbset', 'bounding-lacking', `bounding ${capNames(lacking).join(', ')}: the caller's bounding set lacks them; they cannot be added back`, task));
    const drops = r.caps.bounding & ~c.bounding;
    if (drops && !setpcap) steps.push(no('capbset_drop', 'bounding-drop', `dropping ${capNames(drops).join(', ')} from the bounding set needs CAP_SETPCAP`, task));
    if (c.ambient & ~(c.permitted & c.inheritable)) steps.push(no('ambient_raise', 'ambient', `ambient ${capNames(c.ambient & ~(c.permitted & c.inheritable)).join(', ')}: not in both permitted and inheritable`, task));
  }

  // Securebits: no lock cleared, no locked bit changed; any change needs CAP_SETPCAP.
  if (target.securebits !== null) {
    const from = levels.length ? 0 : r.securebits;
    const to = target.securebits;
    if (to !== from) {
      for (const [bit, lock] of LOCK_PAIRS) {
        if (!(from & lock)) continue;
        if (!(to & lock)) steps.push(no('set_securebits', 'securebits-lock', `${securebitNames(lock)[0]} is set and cannot be cleared`, task));
        else if ((to & bit) !== (from & bit)) steps.push(no('set_securebits', 'securebits-locked-bit', `${securebitNames(bit)[0]} is locked and cannot change`, task));
      }
      const onlyKeep = (to ^ from) === SECBIT.KEEP_CAPS && !(from & SECBIT.KEEP_CAPS_LOCKED);
      if (!levels.length && !setpcap && !onlyKeep)
        steps.push(no('set_securebits', 'securebits-setpcap', `changing securebits ${from} -> ${to} needs CAP_SETPCAP`, task));
    }
  }

  if (!noNewPrivs && r.noNewPrivs)
    steps.push(no('set_no_new_privs', 'no-new-privs', 'the caller has no_new_privs set, which cannot be undone; the image does not', task));
  return steps;
}
