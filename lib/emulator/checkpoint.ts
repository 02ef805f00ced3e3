// checkpoint(): emulated tasks -> an Image, with the seed's object walk: objects once each (the
// objhash), and each user's namespace chain collected without recursion up to a namespace
// already in the image or the root task's namespace, then written outermost first. The root
// task's namespace is the image's root (creator_ref 0).
import type { Cred, GroupInfo, TaskCreds, User, UserNamespace } from '../model/types';
import { ImageBuilder, encode } from '../format';
import type { CredLayout, Image, ImageHeader } from '../format/types';
import { type UnmappedIds, keyKernelId, unmappedIds, unmappedKey, withUnmapped } from '../model/unmapped';
import { idDownTo, nsPath } from '../model/idmap';
import { EmulatorError } from './errors';
import type { KernelProfile } from './profile';

export interface CheckpointTask {
  cred: Cred;
  ecred: Cred;
  noNewPrivs: boolean;
}

export interface CheckpointOptions {
  header?: Partial<ImageHeader>;
  credLayout?: CredLayout;
  /** Default: 'linux-cr' under the seed profile (a strictly series image), none under modern. */
  compat?: 'linux-cr' | 'none';
}

export function checkpointTasks(
  tasks: readonly CheckpointTask[],
  profile: KernelProfile,
  opts: CheckpointOptions = {},
): { image: Image; bytes: Uint8Array } {
  if (tasks.length === 0) throw new EmulatorError('checkpoint.no-tasks', 'checkpoint needs at least one task');
  const b = new ImageBuilder({ header: opts.header, credLayout: opts.credLayout });
  const rootNs = tasks[0].cred.user.ns;
  const nsHash = new Map<UserNamespace, UserNamespace>([[rootNs, b.rootNs]]);
  const userHash = new Map<User, User>();
  const groupHash = new Map<GroupInfo, GroupInfo>();
  const credHash = new Map<Cred, Cred>();

  const writeNs = (ns: UserNamespace, creator: User): UserNamespace => {
    const out = b.namespace(creator, {
      ...(ns.uidMap ? { uidMap: ns.uidMap } : {}),
      ...(ns.gidMap ? { gidMap: ns.gidMap } : {}),
      ...(ns.setgroups && profile.idMaps ? { setgroups: ns.setgroups } : {}),
      ...(ns.inode !== undefined ? { inode: ns.inode } : {}),
    });
    nsHash.set(ns, out);
    return out;
  };
  const writeUserRecord = (u: User): User => {
    const out = b.user(u.uid, nsHash.get(u.ns)!);
    userHash.set(u, out);
    return out;
  };

  // do_checkpoint_user
  const user = (u: User): User => {
    const known = userHash.get(u);
    if (known) return known;
    if (!nsHash.has(u.ns)) {
      const unsaved: User[] = [];
      let ns = u.ns;
      for (;;) {
        const creator = ns.creator;
        if (!creator) {
          throw new EmulatorError('checkpoint.outside-root-ns',
            `a task's user namespace is not below the root task's: it cannot be written with creator_ref 0 semantics`);
        }
        if (userHash.has(creator)) break;
        unsaved.push(creator);
        ns = creator.ns;
        if (ns === rootNs || nsHash.has(ns)) break;
      }
      for (let i = unsaved.length - 1; i >= 0; i--) {
        const c = unsaved[i];
        if (userHash.has(c)) continue;
        // The creator's own namespace is in the image now (root, or written in an earlier turn).
        if (!nsHash.has(c.ns)) writeNs(c.ns, userHash.get(c.ns.creator!)!);
        writeUserRecord(c);
      }
      writeNs(u.ns, userHash.get(u.ns.creator!)!);
    }
    return writeUserRecord(u);
  };

  const groups = (g: GroupInfo): GroupInfo => {
    let out = groupHash.get(g);
    if (!out) groupHash.set(g, (out = { gids: [...g.gids] }));
    return out;
  };

  // Kernel ids behind unmapped ids, as the image's root namespace sees them (the image's kernel
  // ids); one the root namespace cannot see is left out (the image then shows 65534 alone).
  const top = nsPath(rootNs)[0];
  const rootView = (kid: number, kind: 'uid' | 'gid') => (rootNs === top ? kid : idDownTo(top, kid, rootNs, kind));
  const unmapped = (u: UnmappedIds): UnmappedIds => {
    const out: { -readonly [K in keyof UnmappedIds]: UnmappedIds[K] } = {};
    for (const f of Object.keys(u) as (keyof UnmappedIds)[]) {
      if (f === 'groups') {
        const views = u.groups!.map((k) => (k < 0 ? rootView(keyKernelId(k), 'gid') : null));
        if (views.every((v) => v === null || v >= 0)) out.groups = u.groups!.map((k, i) => (views[i] === null ? k : unmappedKey(views[i]!)));
      } else {
        const v = rootView(u[f]!, f.endsWith('uid') ? 'uid' : 'gid');
        if (v >= 0) out[f] = v;
      }
    }
    return out;
  };

  // checkpoint_cred: GROUPINFO, then USER (with its chain), then the CRED.
  const cred = (c: Cred): Cred => {
    let out = credHash.get(c);
    if (out) return out;
    const gi = groups(c.groups);
    const us = user(c.user);
    out = { ...c, groups: gi, user: us, caps: { ...c.caps } };
    if (!profile.ambient) out.caps.ambient = 0n;
    const u = unmappedIds(c);
    if (u && profile.idMaps) withUnmapped(out, unmapped(u));
    credHash.set(c, out);
    return out;
  };

  tasks.forEach((t, i) => {
    const rc = cred(t.cred);
    const ec = t.ecred === t.cred ? rc : cred(t.ecred);
    b.task(rc, { ecred: ec, noNewPrivs: profile.noNewPrivs && t.noNewPrivs, pids: { vpid: i + 1 } });
  });
  const image = b.build();
  const compat = opts.compat ?? (profile.name === 'seed' ? 'linux-cr' : 'none');
  const bytes = encode(image, compat === 'linux-cr' ? { compat } : {});
  return { image, bytes };
}

export type { TaskCreds };
