// setpriv(1) (util-linux): a command prefix that starts a program with a task's identity.
import type { Image } from '../format/types';
import { SECBIT } from '../model/types';
import { ALL_KNOWN_CAPS, capsToNames, unnamedCaps } from './caps';
import { shellLine } from './shell';
import { Notes, checkEcred, checkIds, checkSecurebits, namespaceLevels, selectTask } from './task';
import type { Exported, TaskChoice } from './types';

/** --securebits words setpriv knows; keep_caps is cleared by execve, so it refuses it. */
const SETPRIV_SECUREBITS: readonly [string, number][] = [
  ['noroot', SECBIT.NOROOT],
  ['noroot_locked', SECBIT.NOROOT_LOCKED],
  ['no_setuid_fixup', SECBIT.NO_SETUID_FIXUP],
  ['no_setuid_fixup_locked', SECBIT.NO_SETUID_FIXUP_LOCKED],
  ['keep_caps_locked', SECBIT.KEEP_CAPS_LOCKED],
];
const SETTABLE = SETPRIV_SECUREBITS.reduce((a, [, b]) => a | b, 0);

/** "-all,+kill,+net_bind_service": the whole set, whatever the caller had. */
function capArg(set: bigint): string {
  return ['-all', ...capsToNames(set).map((n) => `+${n.slice(4).toLowerCase()}`)].join(',');
}

/** The argv of the prefix: setpriv ... -- (append the program and its arguments). */
export function toSetpriv(image: Image, choice: TaskChoice = {}): Exported<string[]> {
  const { index, task } = selectTask(image, choice);
  const c = task.cred;
  const notes = new Notes();
  checkEcred(task, notes);
  checkIds(c, notes, true);
  checkSecurebits(c, SETTABLE, 'setpriv', notes);
  for (const s of ['bounding', 'ambient', 'inheritable'] as const)
    if (unnamedCaps(c.caps[s]) !== 0n) notes.add('caps-unnamed', `${s} capabilities 0x${unnamedCaps(c.caps[s]).toString(16)} have no name`);
  const levels = namespaceLevels(c);
  if (levels.length > 0) notes.add('userns', `the task is in a user namespace ${levels.length} level(s) deep: setpriv creates none`);
  const argv = ['setpriv'];
  argv.push(...(c.uid === c.euid ? ['--reuid', String(c.uid)] : ['--ruid', String(c.uid), '--euid', String(c.euid)]));
  argv.push(...(c.gid === c.egid ? ['--regid', String(c.gid)] : ['--rgid', String(c.gid), '--egid', String(c.egid)]));
  argv.push(...(c.groups.gids.length > 0 ? ['--groups', c.groups.gids.join(',')] : ['--clear-groups']));
  argv.push('--inh-caps', capArg(c.caps.inheritable & ALL_KNOWN_CAPS));
  argv.push('--ambient-caps', capArg(c.caps.ambient & ALL_KNOWN_CAPS));
  argv.push('--bounding-set', capArg(c.caps.bounding & ALL_KNOWN_CAPS));
  const bits = (c.securebits ?? 0) & SETTABLE;
  if (bits !== 0) argv.push('--securebits', SETPRIV_SECUREBITS.filter(([, b]) => bits & b).map(([n]) => `+${n}`).join(','));
  if (task.noNewPrivs) argv.push('--no-new-privs');
  argv.push('--');
  return { task: index, value: argv, text: shellLine(argv) + '\n', unexpressed: notes.list };
}
