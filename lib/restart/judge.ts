// The judgement of a restart, before anything is started. Two judgements, both by the emulator
// with the caller as the restarter, both must allow it, and every refused step of either is listed:
// (1) the emulator plays the restart as the seed would (the seed's rules on today's kernel): its
//     steps explain a refusal in the seed's terms;
// (2) the emulator plays the very op list the child will run (the one restore plan), op by op
//     from the caller's creds: a refused op, or a result other than the image's cred, is a
//     denial. The first level's maps (who writes them: the caller, or newuidmap / newgidmap,
//     and whether they may) are decided once, by firstLevelMaps, for the plan and the child.
// (2) is played even when (1) refuses, so the op-level reasons are listed too.
import { SECBIT, capNames, securebitNames, type Cred, type TaskCreds } from '../model';
import { type IdField, groupKeys, ID_FIELDS, idKey, idKind, OVERFLOW_ID } from '../model/unmapped';
import type { Image } from '../format';
import type { ThreadCreds } from '../native/binding';
import { Emulator, type Subordinate, type TaskOutcome } from '../emulator';
import { callerAsRestarter, profileFor } from '../emulator/caller';
import { firstLevelMaps, nsChain, type FirstLevelMaps, type MapHelpers } from './chain';
import { childPlan, type ChildPlan } from './child-plan';
import { CarryCapsRefused, RestartDenied, type Step } from './errors';
import { firstLevelHelpersOf, idmapHelpersFor, subordinateOf } from './idmap-helpers';
import type { RestartOptions, RestartTestHooks } from './options';
import { partialTarget } from './partial';
import type { Target } from './target';

/** An allowed restart: its steps, the plan the child runs, and how the first level's maps are written. */
export interface Judged {
  /** Every judged step (all allowed, but for the seed's notes). */
  steps: Step[];
  plan: ChildPlan;
  /** The emulator's outcome for this task (the seed's judgement). */
  outcome: TaskOutcome;
  /** Caps carryCaps raises into ambient. */
  extraAmbient: bigint;
  idmap: MapHelpers | undefined;
  maps: FirstLevelMaps | undefined;
}

/** Judges the restart of `t` by `restarter`; throws RestartDenied (or CarryCapsRefused) when refused. */
export function judge(t: Target, restarter: ThreadCreds, opts: RestartOptions & RestartTestHooks): Judged {
  const { image, task, target, capLastCap } = t;
  const idmap = idmapHelpersFor(target.cred, restarter, opts.idmapHelpers);
  const emulated = emulate(image, restarter, capLastCap, subordinateOf(idmap));
  const outcome: TaskOutcome | undefined = emulated.tasks[task];
  const steps: Step[] = emulated.steps.filter((s) => s.task === undefined || s.task === task);
  const seedDenied = !outcome || !outcome.ok;
  let extraAmbient = 0n;
  try {
    if (opts.carryCaps) extraAmbient = carriedCaps(target.cred);
  } catch (e) {
    if (!seedDenied) throw e; // a denial outranks a carryCaps refusal; the plan is played without it
  }
  const levels = nsChain(target.cred);
  const maps = levels.length ? firstLevelMaps(levels[0], restarter, idmap) : undefined;
  for (const f of maps?.refused ?? [])
    steps.push({ task, op: 'unshare_user', rule: f.rule, allowed: false, errno: 'EPERM', message: `user namespace 1 (creator uid ${levels[0].creatorUid}): ${f.message}` });
  const plan = childPlan(target.cred, target.noNewPrivs, restarter, { capLastCap, extraAmbient, firstLevelHelpers: firstLevelHelpersOf(maps) });
  const played = plan.played;
  for (const s of played.steps) s.task = task;
  // Up to the first refused op (where the child would stop), then every later refused op: each
  // played from the creds the ops before it left (a refused op changes nothing).
  // A loop, not push(...spread): a deep chain's plan has more steps than a call has arguments.
  played.steps.forEach((s, i) => {
    if (played.refused < 0 || i <= played.refused || !s.allowed) steps.push(s);
  });
  const off = played.refused < 0 ? planResult(target, extraAmbient, played.cred, played.noNewPrivs, restarter, task) : [];
  steps.push(...off);
  if (seedDenied || maps?.refused.length || played.refused >= 0 || off.length) {
    // A sandboxed caller: say what the opt-in would leave out.
    const cut = opts.allowPartial ? [] : partialTarget(target, restarter, capLastCap).unrestored;
    if (cut.length)
      steps.push({ task, op: 'restore plan', rule: 'plan.partial-possible', allowed: false, errno: 'EPERM',
        message: `the caller cannot give back the image's ${cut.map((u) => `${u.field} ${u.field === 'no_new_privs' ? 'clear' : u.missing.join(', ')}`).join('; ')}: ` +
          'allowPartial (restart --allow-partial) restores the rest and lists each field it leaves out' });
    throw new RestartDenied(steps);
  }
  return { steps, plan, outcome, extraAmbient, idmap, maps };
}

/** The caps carryCaps moves into ambient; throws CarryCapsRefused where the rules forbid it. */
function carriedCaps(cred: Cred): bigint {
  const want = cred.caps.permitted & ~cred.caps.ambient;
  if (want === 0n) return 0n;
  const sb = cred.securebits ?? 0;
  if (sb & SECBIT.NO_CAP_AMBIENT_RAISE)
    throw new CarryCapsRefused(
      `carryCaps: SECBIT_NO_CAP_AMBIENT_RAISE is set in the image, so ${capNames(want).join(', ')} cannot be raised into ambient`,
      capNames(want),
    );
  const notInh = want & ~cred.caps.inheritable;
  if (notInh)
    throw new CarryCapsRefused(
      `carryCaps: ${capNames(notInh).join(', ')} are permitted but not inheritable in the image; ambient needs both`,
      capNames(notInh),
    );
  return want;
}

/** The emulator's restart of the whole image, the caller's live creds as the restarter. */
function emulate(image: Image, r: ThreadCreds, lastCap: number, subordinate?: Subordinate) {
  const emu = new Emulator(profileFor(lastCap));
  const me = emu.spawnTask({ ...callerAsRestarter(r), user: emu.user(r.uid) }, { noNewPrivs: r.noNewPrivs });
  return emu.restart(image, me, { subordinate, judgeOnly: true });
}

/**
 * Where the emulator's play of the plan, every op allowed, ends elsewhere than the image's cred
 * (something no call can do, e.g. add back a bounding bit): one refused step per field, naming
 * the field and the ids or bits that differ.
 */
function planResult(target: TaskCreds, extraAmbient: bigint, got: Cred, nnp: boolean, r: ThreadCreds, task: number): Step[] {
  const want = target.cred;
  const out: Step[] = [];
  const off = (field: string, message: string) =>
    out.push({ task, op: 'restore plan', rule: `plan.result.${field}`, allowed: false, errno: 'EPERM',
      message: `restore plan: every op is allowed, but ${message}` });
  // Compared as keys (lib/model/unmapped.ts): an unmapped id reads 65534 like a mapped 65534.
  // The image's root namespace is the caller's, so the image's kernel ids are the caller's.
  const idText = (c: Cred, k: IdField) => (idKey(c, k) < 0 ? `${c[k]} (unmapped: ${idKind(k)} ${-1 - idKey(c, k)} outside)` : `${c[k]}`);
  const groupText = (x: number) => (x < 0 ? `${OVERFLOW_ID} (unmapped: gid ${-1 - x} outside)` : `${x}`);
  for (const k of ID_FIELDS)
    if (idKey(want, k) !== idKey(got, k)) off(k, `the op list would leave ${k} at ${idText(got, k)}; the image has ${idText(want, k)}`);
  const wg = [...groupKeys(want)].sort((a, b) => a - b).map(groupText);
  const gg = [...groupKeys(got)].sort((a, b) => a - b).map(groupText);
  if (wg.join() !== gg.join()) {
    const missing = wg.filter((g) => !gg.includes(g));
    const extra = gg.filter((g) => !wg.includes(g));
    off('groups', `the op list would leave the supplementary groups [${gg.join(',')}], the image has [${wg.join(',')}]` +
      (missing.length ? `; without ${missing.join(', ')}` : '') + (extra.length ? `; with ${extra.join(', ')}, which the image has not` : ''));
  }
  const wantCaps = { ...want.caps, ambient: want.caps.ambient | extraAmbient };
  for (const k of ['inheritable', 'permitted', 'effective', 'bounding', 'ambient'] as const) {
    if (wantCaps[k] === got.caps[k]) continue;
    const missing = wantCaps[k] & ~got.caps[k];
    const extra = got.caps[k] & ~wantCaps[k];
    const parts: string[] = [];
    if (missing) {
      const lacking = k === 'bounding' ? missing & ~r.caps.bounding : 0n;
      parts.push(`without ${capNames(missing).join(', ')}, which the image has` +
        (lacking ? ` (the caller's bounding set lacks ${capNames(lacking).join(', ')}, and no call can add a bit back to a bounding set)` : ''));
    }
    if (extra) parts.push(`with ${capNames(extra).join(', ')}, which the image has not`);
    off(k, `the op list would leave the ${k} capability set ${parts.join(', and ')}`);
  }
  if (want.securebits !== null && want.securebits !== got.securebits)
    off('securebits', `the op list would leave securebits 0x${(got.securebits ?? 0).toString(16)} (${securebitNames(got.securebits ?? 0).join(', ') || 'none'}); ` +
      `the image has 0x${want.securebits.toString(16)} (${securebitNames(want.securebits).join(', ') || 'none'})`);
  if (target.noNewPrivs !== nnp)
    off('no_new_privs', nnp
      ? 'no_new_privs would stay set (the caller has it, and it cannot be cleared); the image does not have it'
      : 'no_new_privs would stay clear; the image has it set');
  return out;
}
