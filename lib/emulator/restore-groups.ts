// restore_groupinfo: a GROUPINFO of the image as an object of the emulator, checked as the seed
// checks it (at most NGROUPS_MAX, strictly ascending); restored once per image object.
import type { GroupInfo } from '../model/types';
import { NGROUPS_MAX } from './kernel';
import type { RestoreContext, Result } from './restore-context';
import { allowLazy, refuse } from './step';

export function restoreGroups(cx: RestoreContext, g: GroupInfo): Result<GroupInfo> {
  const { objects, push, no, holds, hashGroups } = cx;
  const known = hashGroups.get(g);
  if (known) return known;
  let r: Result<GroupInfo>;
  const op = () => `restore GROUPINFO [${g.gids.slice(0, 8).join(',')}${g.gids.length > 8 ? ',...' : ''}]`;
  if (g.gids.length > NGROUPS_MAX) r = no(refuse(op(), 'groupinfo.ngroups-max', 'EINVAL', `${op()} refused: more than NGROUPS_MAX groups`));
  else if (g.gids.some((x, i) => i > 0 && g.gids[i - 1] >= x)) {
    r = no(refuse(op(), 'groupinfo.order', 'EINVAL', `${op()} refused: groups are not strictly ascending`));
  } else {
    const obj = objects.groups(g.gids);
    objects.getGroups(obj);
    holds.push(() => objects.putGroups(obj));
    push(allowLazy('groupinfo.restore', () => [op(), `${op()}: ${g.gids.length} groups read`]));
    r = { ok: true, v: obj };
  }
  hashGroups.set(g, r);
  return r;
}
