// fast-check generators of whole images with real sharing (objects reused across creds and
// tasks, and equal-valued objects that are distinct), both byte orders and layouts.
import fc from 'fast-check';
import type { Cred, GroupInfo, IdMapExtent, TaskCreds, User, UserNamespace } from '../../lib/model';
import { defaultHeader, defaultPrefix, type Image } from '../../lib/format';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const s32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const cap64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
/** A prefix body: a byte string (one char 0-255 per byte). */
const byteString = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString('latin1'));

const extent = fc.record({ inside: u32, outside: u32, count: u32 });
const extents = fc.array(extent, { maxLength: 4 });

export const arbImage = (opts: { ext?: boolean } = {}): fc.Arbitrary<Image> =>
  fc
    .record({
      byteOrder: fc.constantFrom('little' as const, 'big' as const),
      dialect: fc.constantFrom('v21' as const, 'v23' as const),
      prefix: fc.oneof(
        fc.constant('default' as const),
        fc.record({
          headerArch: fc.option(byteString(24), { nil: undefined }),
          container: fc.option(
            fc.record({
              body: byteString(8),
              lsmName: fc.option(byteString(16), { nil: undefined }),
              lsmInfo: fc.option(byteString(24), { nil: undefined }),
            }),
            { nil: undefined },
          ),
        }),
      ),
      credLayout: fc.constantFrom(88 as const, 96 as const),
      ext: opts.ext === undefined ? fc.boolean() : fc.constant(opts.ext),
      time: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      nss: fc.array(
        fc.record({
          creator: fc.nat(),
          uidMap: fc.option(extents, { nil: undefined }),
          gidMap: fc.option(extents, { nil: undefined }),
          setgroups: fc.option(fc.constantFrom('allow' as const, 'deny' as const), { nil: undefined }),
          inode: fc.option(cap64, { nil: undefined }),
        }),
        { maxLength: 4 },
      ),
      users: fc.array(fc.record({ uid: u32, ns: fc.nat() }), { minLength: 1, maxLength: 6 }),
      groups: fc.array(fc.uniqueArray(u32, { maxLength: 6 }), { minLength: 1, maxLength: 3 }),
      creds: fc.array(
        fc.record({
          ids: fc.array(u32, { minLength: 8, maxLength: 8 }),
          groups: fc.nat(),
          user: fc.nat(),
          caps: fc.array(cap64, { minLength: 5, maxLength: 5 }),
          securebits: fc.option(u32, { nil: null }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      tasks: fc.array(
        fc.record({
          cred: fc.nat(),
          ecred: fc.option(fc.nat(), { nil: undefined }),
          pids: fc.tuple(s32, s32, s32, s32, s32, u32),
          nnp: fc.boolean(),
        }),
        { maxLength: 6 },
      ),
    })
    .map((g) => {
      const nss: UserNamespace[] = [{ creator: null }];
      const users: User[] = [];
      // Users and namespaces interleave: each namespace's creator is a user made before it.
      g.users.forEach((spec, j) => {
        users.push({ uid: spec.uid, ns: nss[spec.ns % nss.length] });
        const nsSpec = g.nss[j];
        if (!nsSpec) return;
        const ns: { -readonly [K in keyof UserNamespace]: UserNamespace[K] } = { creator: users[nsSpec.creator % users.length] };
        if (g.ext) {
          if (nsSpec.uidMap) ns.uidMap = nsSpec.uidMap as IdMapExtent[];
          if (nsSpec.gidMap) ns.gidMap = nsSpec.gidMap as IdMapExtent[];
          if (nsSpec.setgroups) ns.setgroups = nsSpec.setgroups;
          if (nsSpec.inode !== undefined) ns.inode = nsSpec.inode;
        }
        nss.push(ns);
      });
      const groups: GroupInfo[] = g.groups.map((gids) => ({ gids: [...gids].sort((a, b) => a - b) }));
      const creds: Cred[] = g.creds.map((c) => ({
        uid: c.ids[0], euid: c.ids[1], suid: c.ids[2], fsuid: c.ids[3],
        gid: c.ids[4], egid: c.ids[5], sgid: c.ids[6], fsgid: c.ids[7],
        groups: groups[c.groups % groups.length],
        user: users[c.user % users.length],
        caps: {
          inheritable: c.caps[0], permitted: c.caps[1], effective: c.caps[2], bounding: c.caps[3],
          ambient: g.ext ? c.caps[4] : 0n,
        },
        securebits: g.ext ? c.securebits : (c.securebits ?? 0) & 0x3f,
      }));
      const tasks: TaskCreds[] = g.tasks.map((t) => {
        const cred = creds[t.cred % creds.length];
        const [vpid, vppid, vtgid, vpgid, vsid, depth] = t.pids;
        return {
          pids: { vpid, vppid, vtgid, vpgid, vsid, depth },
          cred,
          ecred: t.ecred === undefined ? cred : creds[t.ecred % creds.length],
          noNewPrivs: g.ext && t.nnp,
        };
      });
      const header = defaultHeader({ byteOrder: g.byteOrder, time: g.time, uts: { release: 'r', version: 'v', machine: 'm' } });
      const prefix = g.prefix === 'default' ? defaultPrefix(header) : g.prefix;
      return { header, dialect: g.dialect, prefix, credLayout: g.credLayout, tasks };
    });

/**
 * The sharing structure of an image: every object replaced by the index of its first
 * appearance, so two images have the same shape iff their objects are shared the same way.
 */
export function sharingShape(image: Image): number[] {
  const ids = new Map<object, number>();
  const id = (o: object) => {
    let n = ids.get(o);
    if (n === undefined) ids.set(o, (n = ids.size));
    return n;
  };
  const out: number[] = [];
  const user = (u: User): void => {
    out.push(id(u), id(u.ns));
    const seen = new Set<UserNamespace>();
    for (let ns: UserNamespace = u.ns; ns.creator && !seen.has(ns); ns = ns.creator.ns) {
      seen.add(ns);
      out.push(id(ns), id(ns.creator));
    }
  };
  for (const t of image.tasks) {
    for (const c of [t.cred, t.ecred]) {
      out.push(id(c), id(c.groups), id(c.caps));
      user(c.user);
    }
  }
  return out;
}
