// ImageBuilder: images for harnesses and tests, with the sharing done for them. Users, group
// lists and creds are interned, so equal values are one object and the image writes them once.
import type {
  Capabilities,
  Cred,
  GroupInfo,
  IdMapExtent,
  TaskCreds,
  TaskPids,
  User,
  UserNamespace,
} from '../model/types';
import { DEFAULT_DIALECT, type Dialect } from './dialects';
import { defaultHeader, defaultPrefix } from './header';
import type { CredLayout, Image, ImageHeader, ImagePrefix } from './types';

export interface NamespaceExt {
  uidMap?: readonly IdMapExtent[];
  gidMap?: readonly IdMapExtent[];
  setgroups?: 'allow' | 'deny';
  inode?: bigint;
}

export interface CredInit {
  uid: number;
  /** euid, suid and fsuid default to uid. */
  euid?: number;
  suid?: number;
  fsuid?: number;
  /** Default 0; egid, sgid and fsgid default to gid. */
  gid?: number;
  egid?: number;
  sgid?: number;
  fsgid?: number;
  groups?: readonly number[] | GroupInfo;
  /** Default user(uid) in the root namespace. */
  user?: User;
  /** Missing sets are 0. */
  caps?: Partial<Capabilities>;
  /** Default 0; null: unknown. */
  securebits?: number | null;
  secRef?: number;
}

export interface TaskOptions {
  /** Default: the same object as cred. */
  ecred?: Cred;
  /** Defaults: vpid index+1, vppid index (0 for the first), vtgid vpid, vpgid 1, vsid 1, depth 0. */
  pids?: Partial<TaskPids>;
  noNewPrivs?: boolean;
}

export class BuilderError extends Error {
  override name = 'BuilderError';
  readonly code = 'ERR_IMAGE_BUILDER';
}

export class ImageBuilder {
  readonly rootNs: UserNamespace = { creator: null };
  private readonly header: ImageHeader;
  private readonly credLayout: CredLayout;
  private readonly dialect: Dialect;
  private readonly prefix: ImagePrefix;
  private readonly tasks: TaskCreds[] = [];
  private readonly nsByInode = new Map<bigint, UserNamespace>();
  private readonly users = new Map<UserNamespace, Map<number, User>>();
  private readonly groupLists = new Map<string, GroupInfo>();
  private readonly creds = new Map<string, Cred>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  /** Defaults: defaultHeader(), 88-byte CREDs, v21, defaultPrefix() of the header. */
  constructor(opts: { header?: Partial<ImageHeader>; credLayout?: CredLayout; dialect?: Dialect; prefix?: ImagePrefix } = {}) {
    this.header = defaultHeader(opts.header);
    this.credLayout = opts.credLayout ?? 88;
    this.dialect = opts.dialect ?? DEFAULT_DIALECT;
    this.prefix = opts.prefix ?? defaultPrefix(this.header);
  }

  /** A namespace created by `creator`; interned by inode when one is given. */
  namespace(creator: User, ext: NamespaceExt = {}): UserNamespace {
    if (ext.inode !== undefined) {
      const known = this.nsByInode.get(ext.inode);
      if (known) {
        if (known.creator !== creator) throw new BuilderError(`namespace inode ${ext.inode} was made with another creator`);
        return known;
      }
    }
    const ns: { -readonly [K in keyof UserNamespace]: UserNamespace[K] } = { creator };
    if (ext.uidMap !== undefined) ns.uidMap = ext.uidMap.map((e) => ({ ...e }));
    if (ext.gidMap !== undefined) ns.gidMap = ext.gidMap.map((e) => ({ ...e }));
    if (ext.setgroups !== undefined) ns.setgroups = ext.setgroups;
    if (ext.inode !== undefined) {
      ns.inode = ext.inode;
      this.nsByInode.set(ext.inode, ns);
    }
    return ns;
  }

  /** The user `uid` of `ns` (default: the root namespace), one object per (uid, ns). */
  user(uid: number, ns: UserNamespace = this.rootNs): User {
    let byUid = this.users.get(ns);
    if (!byUid) this.users.set(ns, (byUid = new Map()));
    let u = byUid.get(uid);
    if (!u) byUid.set(uid, (u = { uid, ns }));
    return u;
  }

  /** A group list, sorted and de-duplicated, one object per distinct list. */
  groups(gids: Iterable<number>): GroupInfo {
    const sorted = [...new Set(gids)].sort((a, b) => a - b);
    const key = sorted.join(',');
    let g = this.groupLists.get(key);
    if (!g) this.groupLists.set(key, (g = { gids: sorted }));
    return g;
  }

  /** A cred, one object per distinct value (object fields compared by identity). */
  cred(init: CredInit): Cred {
    const gid = init.gid ?? 0;
    const euid = init.euid ?? init.uid;
    const caps: Capabilities = {
      inheritable: init.caps?.inheritable ?? 0n,
      permitted: init.caps?.permitted ?? 0n,
      effective: init.caps?.effective ?? 0n,
      bounding: init.caps?.bounding ?? 0n,
      ambient: init.caps?.ambient ?? 0n,
    };
    const cred: Cred = {
      uid: init.uid,
      euid,
      suid: init.suid ?? init.uid,
      fsuid: init.fsuid ?? init.uid,
      gid,
      egid: init.egid ?? gid,
      sgid: init.sgid ?? gid,
      fsgid: init.fsgid ?? gid,
      groups: Array.isArray(init.groups) || init.groups === undefined
        ? this.groups((init.groups as readonly number[] | undefined) ?? [])
        : (init.groups as GroupInfo),
      user: init.user ?? this.user(init.uid),
      caps,
      securebits: init.securebits === undefined ? 0 : init.securebits,
    };
    if (init.secRef !== undefined && init.secRef !== 0) cred.secRef = init.secRef;
    const key = [
      cred.uid, cred.euid, cred.suid, cred.fsuid, cred.gid, cred.egid, cred.sgid, cred.fsgid,
      this.id(cred.groups), this.id(cred.user),
      caps.inheritable, caps.permitted, caps.effective, caps.bounding, caps.ambient,
      cred.securebits, cred.secRef ?? 0,
    ].join('|');
    const known = this.creds.get(key);
    if (known) return known;
    this.creds.set(key, cred);
    return cred;
  }

  /** Adds a task; returns it (its objects may be shared with other tasks). */
  task(cred: Cred, opts: TaskOptions = {}): TaskCreds {
    const i = this.tasks.length;
    const vpid = opts.pids?.vpid ?? i + 1;
    const pids: TaskPids = {
      vpid,
      vppid: i,
      vtgid: vpid,
      vpgid: 1,
      vsid: 1,
      depth: 0,
      ...opts.pids,
    };
    const t: TaskCreds = { pids, cred, ecred: opts.ecred ?? cred, noNewPrivs: opts.noNewPrivs ?? false };
    this.tasks.push(t);
    return t;
  }

  build(): Image {
    return { header: { ...this.header }, dialect: this.dialect, prefix: this.prefix, credLayout: this.credLayout, tasks: [...this.tasks] };
  }

  private id(o: object): number {
    let n = this.ids.get(o);
    if (n === undefined) this.ids.set(o, (n = this.nextId++));
    return n;
  }
}
