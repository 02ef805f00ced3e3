// Object identity and reference counts: users are interned per (namespace, uid) as alloc_uid()
// does; creds, users, namespaces and group lists are counted the way the kernel counts them
// (a cred pins its user and group list, a user its namespace, a namespace its creator).
import type { Cred, GroupInfo, User, UserNamespace } from '../model/types';
import { parentNs } from '../model/idmap';

export interface LiveObjects {
  creds: number;
  users: number;
  namespaces: number;
  groupinfos: number;
}

export class ObjectTable {
  private readonly users = new WeakMap<UserNamespace, Map<number, User>>();
  private readonly credRefs = new Map<Cred, number>();
  private readonly userRefs = new Map<User, number>();
  private readonly nsRefs = new Map<UserNamespace, number>();
  private readonly groupRefs = new Map<GroupInfo, number>();
  private readonly totals: LiveObjects = { creds: 0, users: 0, namespaces: 0, groupinfos: 0 };
  readonly emptyGroups: GroupInfo = Object.freeze({ gids: Object.freeze([]) as readonly number[] });

  /** alloc_uid(ns, uid): one User per (ns, uid) while it lives. */
  user(uid: number, ns: UserNamespace): User {
    let byUid = this.users.get(ns);
    if (!byUid) this.users.set(ns, (byUid = new Map()));
    let u = byUid.get(uid);
    if (!u) byUid.set(uid, (u = Object.freeze({ uid, ns })));
    return u;
  }

  /** A group list from gids (kernel order: sorted; duplicates folded, see docs). */
  groups(gids: readonly number[]): GroupInfo {
    if (gids.length === 0) return this.emptyGroups;
    const sorted = [...gids].sort((a, b) => a - b);
    const out: number[] = [];
    for (const g of sorted) if (out.length === 0 || out[out.length - 1] !== g) out.push(g);
    return Object.freeze({ gids: Object.freeze(out) as readonly number[] });
  }

  getCred(c: Cred, by = 1): void {
    const n = this.credRefs.get(c) ?? 0;
    this.credRefs.set(c, n + by);
    this.totals.creds += by;
    if (n === 0) {
      this.getUser(c.user);
      this.getGroups(c.groups);
    }
  }

  putCred(c: Cred, by = 1): void {
    const n = this.credRefs.get(c);
    if (!n || n < by) throw new Error('emulator: cred reference count underflow');
    this.totals.creds -= by;
    if (n > by) {
      this.credRefs.set(c, n - by);
      return;
    }
    this.credRefs.delete(c);
    this.putUser(c.user);
    this.putGroups(c.groups);
  }

  getUser(u: User): void {
    const n = this.userRefs.get(u) ?? 0;
    this.userRefs.set(u, n + 1);
    this.totals.users++;
    if (n === 0) {
      // A user built elsewhere (ImageBuilder, decode) becomes the one alloc_uid() returns.
      let byUid = this.users.get(u.ns);
      if (!byUid) this.users.set(u.ns, (byUid = new Map()));
      const cur = byUid.get(u.uid);
      if (cur === undefined || (cur !== u && !this.userRefs.has(cur))) byUid.set(u.uid, u);
      this.getNs(u.ns);
    }
  }

  putUser(u: User): void {
    const n = this.userRefs.get(u);
    if (!n) throw new Error('emulator: user reference count underflow');
    this.totals.users--;
    if (n > 1) {
      this.userRefs.set(u, n - 1);
      return;
    }
    this.userRefs.delete(u);
    this.forget(u);
    this.putNs(u.ns);
  }

  // A namespace pins its creator; the chain is walked without recursion (chains can be deep).
  getNs(ns: UserNamespace): void {
    let cur: UserNamespace | null = ns;
    while (cur) {
      const n = this.nsRefs.get(cur) ?? 0;
      this.nsRefs.set(cur, n + 1);
      this.totals.namespaces++;
      if (n > 0 || !cur.creator) return;
      const creator: User = cur.creator;
      const un = this.userRefs.get(creator) ?? 0;
      this.userRefs.set(creator, un + 1);
      this.totals.users++;
      if (un > 0) return;
      cur = parentNs(cur);
    }
  }

  putNs(ns: UserNamespace): void {
    let cur: UserNamespace | null = ns;
    while (cur) {
      const n = this.nsRefs.get(cur);
      if (!n) throw new Error('emulator: namespace reference count underflow');
      this.totals.namespaces--;
      if (n > 1) {
        this.nsRefs.set(cur, n - 1);
        return;
      }
      this.nsRefs.delete(cur);
      if (!cur.creator) return;
      const creator: User = cur.creator;
      const un = this.userRefs.get(creator)!;
      this.totals.users--;
      if (un > 1) {
        this.userRefs.set(creator, un - 1);
        return;
      }
      this.userRefs.delete(creator);
      this.forget(creator);
      cur = creator.ns;
    }
  }

  /** Drops a dead user from the intern table, unless the table holds another object for it. */
  private forget(u: User): void {
    const byUid = this.users.get(u.ns);
    if (byUid?.get(u.uid) === u) byUid.delete(u.uid);
  }

  getGroups(g: GroupInfo): void {
    this.groupRefs.set(g, (this.groupRefs.get(g) ?? 0) + 1);
    this.totals.groupinfos++;
  }

  putGroups(g: GroupInfo): void {
    const n = this.groupRefs.get(g);
    if (!n) throw new Error('emulator: groupinfo reference count underflow');
    this.totals.groupinfos--;
    if (n > 1) this.groupRefs.set(g, n - 1);
    else this.groupRefs.delete(g);
  }

  refs(c: Cred): number {
    return this.credRefs.get(c) ?? 0;
  }

  live(): LiveObjects {
    return { ...this.totals };
  }
}
