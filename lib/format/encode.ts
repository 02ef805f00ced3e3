// encode(): the writer. Objects are written once, on first use, in the seed's order, each
// preceded by its OBJREF; objrefs count from 1 across all object types. Sharing is JS identity.
import type { CapSet, Cred, GroupInfo, TaskCreds, User, UserNamespace } from '../model/types';
import {
  HEAD_MAGIC,
  MAX_ID_EXTENTS,
  MAX_LSM_NAME_LEN,
  MAX_RECORD_LEN,
  NGROUPS_MAX,
  RecordSize,
  RecordType,
  SEED_SECUREBITS_MASK,
  TAIL_MAGIC,
  UTS_LEN,
} from './constants';
import { DEFAULT_DIALECT, DIALECTS, isDialect, type Dialect, type DialectTable, type ObjTypes, type TaskRecordTypes } from './dialects';
import { ImageEncodeError } from './errors';
import { defaultPrefix } from './header';
import {
  CRED_EXT_LEN,
  CredExtFlag,
  TASK_EXT_LEN,
  TaskExtFlag,
  USERNS_EXT_BASE,
  UsernsExtFlag,
  credExtReasons,
  taskExtReasons,
  usernsExtLen,
  usernsExtReasons,
  writeExtents,
} from './extensions';
import type { Image, ImagePrefix, SecurityObject } from './types';
import { UNMAPPED_EXT_BASE, UNMAPPED_ENTRY_SIZE, unmappedEntries, unmappedExtLen } from './unmapped-ext';

export interface EncodeOptions {
  /** 'linux-cr': a strictly series-compatible image; refuse state only extensions can carry. */
  compat?: 'linux-cr';
  /** The numbering to write: default the image's own dialect, else v21 (the seed's). */
  dialect?: Dialect;
}

const U32 = 0xffffffffn;

/** A growable little buffer; fresh bytes are zero, so padding needs no writes. */
class Out {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  constructor(
    readonly le: boolean,
    sizeHint: number,
  ) {
    this.buf = new Uint8Array(sizeHint);
    this.view = new DataView(this.buf.buffer);
  }

  /** Starts a record of `len` bytes; returns its offset. */
  record(type: number, len: number): number {
    const need = this.pos + len;
    if (need > this.buf.byteLength) {
      let size = this.buf.byteLength * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.pos));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.pos;
    this.view.setUint32(at, type, this.le);
    this.view.setUint32(at + 4, len, this.le);
    this.pos = need;
    return at;
  }

  u16(at: number, v: number): void {
    this.view.setUint16(at, v, this.le);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v, this.le);
  }
  s32(at: number, v: number): void {
    this.view.setInt32(at, v, this.le);
  }
  u64(at: number, v: bigint): void {
    this.view.setBigUint64(at, v, this.le);
  }
  /** A 64-bit set as the caps block's two u32 words, low first. */
  caps(at: number, set: CapSet): void {
    this.u32(at, Number(set & U32));
    this.u32(at + 4, Number((set >> 32n) & U32));
  }
  /** The image: a view of the work buffer when at most 1/8 of it is unused (no copy), else a copy. */
  bytes(): Uint8Array {
    const spare = this.buf.byteLength - this.pos;
    return spare * 8 <= this.pos ? this.buf.subarray(0, this.pos) : this.buf.slice(0, this.pos);
  }
}

function invalid(message: string): ImageEncodeError {
  return new ImageEncodeError('ERR_IMAGE_INVALID_MODEL', message);
}

class Encoder {
  private readonly out: Out;
  private readonly refs = new Map<object, number>();
  private next = 1;
  private readonly strict: boolean;
  private readonly rec: TaskRecordTypes;
  private readonly obj: ObjTypes;
  private readonly security = new Map<number, SecurityObject>();
  /** Where we are, for messages ("task 2 (vpid 3): effective cred"); built only on error. */
  private taskIndex = -1;
  private role = '';
  private get where(): string {
    const t = this.image.tasks[this.taskIndex];
    return `task ${this.taskIndex} (vpid ${t?.pids.vpid})${this.role ? `: ${this.role}` : ''}`;
  }

  constructor(private readonly image: Image, opts: EncodeOptions) {
    // Frame + per task TASK_CREDS, pid entry and maybe TASK_EXT; shared objects are few
    // (growth covers the rest).
    const hint = 4096 + 56 * image.tasks.length;
    this.out = new Out(image.header.byteOrder !== 'big', hint);
    this.strict = opts.compat === 'linux-cr';
    const dialect = opts.dialect ?? image.dialect ?? DEFAULT_DIALECT;
    if (!isDialect(dialect)) throw invalid(`dialect ${String(dialect)} is neither v21 nor v23`);
    const d: DialectTable = DIALECTS[dialect];
    this.rec = d.record;
    this.obj = d.obj;
    for (const s of image.security ?? []) this.security.set(s.objref, s);
  }

  run(): Uint8Array {
    const { image } = this;
    if (image.credLayout !== 88 && image.credLayout !== 96) throw invalid(`credLayout ${String(image.credLayout)} is neither 88 nor 96`);
    this.header();
    this.prefix(image.prefix ?? defaultPrefix(image.header));
    this.tree(image.tasks);
    for (let i = 0; i < image.tasks.length; i++) this.task(image.tasks[i], i);
    // SECURITY objects no cred names still round-trip.
    for (const s of image.security ?? []) if (!this.refs.has(s)) this.securityObject(s);
    const at = this.out.record(RecordType.TAIL, RecordSize.TAIL);
    this.out.u64(at + 8, TAIL_MAGIC);
    return this.out.bytes();
  }

  private header(): void {
    const { out } = this;
    const h = this.image.header;
    const at = out.record(RecordType.HEADER, RecordSize.HEADER);
    out.u64(at + 8, HEAD_MAGIC);
    out.u16(at + 16, h.arch);
    out.u16(at + 18, h.kernel.major);
    out.u16(at + 20, h.kernel.minor);
    out.u16(at + 22, h.kernel.patch);
    out.u16(at + 24, h.kernel.rev);
    for (let i = 0; i < 12; i++) out.u16(at + 32 + 2 * i, h.constants[i] ?? 0);
    out.u64(at + 56, BigInt.asUintN(64, h.time));
    out.u64(at + 64, BigInt.asUintN(64, h.uflags));
    for (const s of [h.uts.release, h.uts.version, h.uts.machine]) {
      // uts strings are bytes (latin1 here, as decode reads them): at most 65, no NUL.
      if (s.length > UTS_LEN || /[\u0000\u0100-\uffff]/.test(s)) throw invalid(`uts string ${JSON.stringify(s)} does not fit a ${UTS_LEN}-byte uts field of bytes`);
      const b = Buffer.from(s, 'latin1');
      const p = out.record(RecordType.BUFFER, RecordSize.HDR + UTS_LEN);
      out.buf.set(b, p + 8);
    }
  }

  /** A prefix record whose body is given verbatim, as a byte string (see ImagePrefix). */
  private verbatim(type: number, body: string): void {
    const at = this.out.record(type, RecordSize.HDR + body.length);
    this.out.buf.set(Buffer.from(body, 'latin1'), at + 8);
  }

  /** What a real kernel writes between the uts BUFFERs and TREE (each part only if present). */
  private prefix(p: ImagePrefix): void {
    const c = p.container;
    const parts = [['headerArch', p.headerArch, MAX_RECORD_LEN - RecordSize.HDR], ['container body', c?.body, MAX_RECORD_LEN - RecordSize.HDR], ['lsmName', c?.lsmName, MAX_LSM_NAME_LEN], ['lsmInfo', c?.lsmInfo, MAX_RECORD_LEN - RecordSize.HDR]] as const;
    for (const [name, body, max] of parts) {
      if (body === undefined) continue;
      // Bytes as a string of chars 0-255: anything else would not write back as it reads.
      if (typeof body !== 'string' || /[^\u0000-\u00ff]/.test(body)) throw invalid(`prefix ${name} is not a byte string (one char 0-255 per byte)`);
      if (body.length > max) throw invalid(`prefix ${name}: ${body.length} bytes exceed ${name === 'lsmName' ? max : "a record's limit"}`);
    }
    if (c !== undefined && typeof c.body !== 'string') throw invalid('prefix container body is missing');
    if (p.headerArch !== undefined) this.verbatim(RecordType.HEADER_ARCH, p.headerArch);
    if (c === undefined) return;
    this.verbatim(RecordType.CONTAINER, c.body);
    if (c.lsmName !== undefined) this.verbatim(RecordType.BUFFER, c.lsmName);
    if (c.lsmInfo !== undefined) this.verbatim(RecordType.LSM_INFO, c.lsmInfo);
  }

  private tree(tasks: readonly TaskCreds[]): void {
    const { out } = this;
    let at = out.record(this.rec.TREE, RecordSize.TREE);
    out.u32(at + 8, tasks.length);
    at = out.record(RecordType.BUFFER, RecordSize.HDR + RecordSize.PIDS_ENTRY * tasks.length) + 8;
    const { view, le } = out;
    for (let i = 0; i < tasks.length; i++, at += 24) {
      const pids = tasks[i].pids;
      view.setInt32(at, pids.vpid, le);
      view.setInt32(at + 4, pids.vppid, le);
      view.setInt32(at + 8, pids.vtgid, le);
      view.setInt32(at + 12, pids.vpgid, le);
      view.setInt32(at + 16, pids.vsid, le);
      view.setUint32(at + 20, pids.depth, le);
    }
  }

  private task(t: TaskCreds, i: number): void {
    this.taskIndex = i;
    this.role = 'real cred';
    const cred = this.cred(t.cred);
    this.role = 'effective cred';
    const ecred = this.cred(t.ecred);
    const { out } = this;
    const at = out.record(this.rec.TASK_CREDS, RecordSize.TASK_CREDS);
    out.s32(at + 8, cred);
    out.s32(at + 12, ecred);
    if (t.noNewPrivs) {
      this.role = '';
      this.expressible(taskExtReasons(t));
      const p = out.record(RecordType.TASK_EXT, TASK_EXT_LEN);
      out.u32(p + 8, TaskExtFlag.NO_NEW_PRIVS);
    }
  }

  private expressible(why: string[]): void {
    if (this.strict)
      throw new ImageEncodeError('ERR_IMAGE_NOT_EXPRESSIBLE', `${this.where}: ${why.join(', ')} cannot be expressed in a linux-cr image`);
  }

  private objref(obj: object, objtype: number): number {
    const ref = this.next++;
    this.refs.set(obj, ref);
    const at = this.out.record(RecordType.OBJREF, RecordSize.OBJREF);
    this.out.u32(at + 8, objtype);
    this.out.s32(at + 12, ref);
    return ref;
  }

  private groups(g: GroupInfo): number {
    const known = this.refs.get(g);
    if (known !== undefined) return known;
    const n = g.gids.length;
    if (n > NGROUPS_MAX) throw invalid(`${this.where}: ${n} groups exceed NGROUPS_MAX (${NGROUPS_MAX})`);
    for (let i = 0; i < n; i++) {
      const v = g.gids[i];
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff || (i > 0 && v <= g.gids[i - 1]))
        throw invalid(`${this.where}: groups must be strictly ascending u32 gids (index ${i}: ${v})`);
    }
    const ref = this.objref(g, this.obj.GROUPINFO);
    const { out } = this;
    let at = out.record(this.rec.GROUPINFO, RecordSize.GROUPINFO_BASE + 4 * n);
    out.u32(at + 8, n);
    at += 12;
    for (let i = 0; i < n; i++, at += 4) out.u32(at, g.gids[i]);
    return ref;
  }

  private user(u: User): number {
    const known = this.refs.get(u);
    if (known !== undefined) return known;
    const nsRef = this.namespaceChain(u.ns);
    const ref = this.objref(u, this.obj.USER);
    const at = this.out.record(this.rec.USER, RecordSize.USER);
    this.out.u32(at + 8, u.uid);
    this.out.s32(at + 12, nsRef);
    return ref;
  }

  /**
   * The seed's walk, without recursion: collect the creators of namespaces not yet written,
   * up to one already written or a root (creator null); write them outermost first, each
   * creator's namespace before it; then the namespace itself.
   */
  private namespaceChain(ns: UserNamespace): number {
    const known = this.refs.get(ns);
    if (known !== undefined) return known;
    const creators: User[] = [];
    const seen = new Set<UserNamespace>();
    let n = ns;
    while (!this.refs.has(n) && n.creator !== null && !this.refs.has(n.creator)) {
      if (seen.has(n)) throw invalid(`${this.where}: the user-namespace creator chain loops`);
      seen.add(n);
      creators.push(n.creator);
      n = n.creator.ns;
    }
    for (let i = creators.length - 1; i >= 0; i--) {
      const c = creators[i];
      if (!this.refs.has(c.ns)) this.namespace(c.ns);
      this.user(c); // its namespace is written now, so this does not walk again
    }
    return this.namespace(ns);
  }

  private namespace(ns: UserNamespace): number {
    const creatorRef = ns.creator === null ? 0 : this.refs.get(ns.creator);
    if (creatorRef === undefined) throw invalid(`${this.where}: a namespace's creator was not written before it`);
    const ref = this.objref(ns, this.obj.USER_NS);
    const { out } = this;
    const at = out.record(this.rec.USER_NS, RecordSize.USER_NS);
    out.s32(at + 8, creatorRef);
    const why = usernsExtReasons(ns);
    if (why.length === 0) return ref;
    this.expressible(why.map((w) => `user namespace ${w}`));
    const uid = ns.uidMap ?? [];
    const gid = ns.gidMap ?? [];
    if (uid.length > MAX_ID_EXTENTS || gid.length > MAX_ID_EXTENTS)
      throw invalid(`${this.where}: a uid_map or gid_map holds at most ${MAX_ID_EXTENTS} extents`);
    let flags = 0;
    if (ns.uidMap) flags |= UsernsExtFlag.UID_MAP_KNOWN;
    if (ns.gidMap) flags |= UsernsExtFlag.GID_MAP_KNOWN;
    if (ns.setgroups !== undefined) flags |= UsernsExtFlag.SETGROUPS_KNOWN | (ns.setgroups === 'deny' ? UsernsExtFlag.SETGROUPS_DENY : 0);
    if (ns.inode !== undefined) flags |= UsernsExtFlag.INODE_KNOWN;
    const p = out.record(RecordType.USERNS_EXT, usernsExtLen(uid.length, gid.length));
    out.s32(p + 8, ref);
    out.u32(p + 12, flags);
    out.u64(p + 16, BigInt.asUintN(64, ns.inode ?? 0n));
    out.u32(p + 24, uid.length);
    out.u32(p + 28, gid.length);
    writeExtents(out.view, writeExtents(out.view, p + USERNS_EXT_BASE, uid, out.le), gid, out.le);
    return ref;
  }

  private securityObject(s: SecurityObject): number {
    const known = this.refs.get(s);
    if (known !== undefined) return known;
    const ref = this.objref(s, this.obj.SECURITY);
    const at = this.out.record(s.type, RecordSize.HDR + s.body.byteLength);
    this.out.buf.set(s.body, at + 8);
    return ref;
  }

  private cred(c: Cred): number {
    const known = this.refs.get(c);
    if (known !== undefined) return known;
    const groupsRef = this.groups(c.groups);
    const userRef = this.user(c.user);
    const layout = this.image.credLayout;
    let secRef = c.secRef ?? 0;
    if (secRef !== 0 && layout === 88)
      throw new ImageEncodeError('ERR_IMAGE_NOT_EXPRESSIBLE', `${this.where}: sec_ref ${secRef} needs the 96-byte CRED layout`);
    if (secRef > 0) {
      const s = this.security.get(secRef);
      if (!s) throw invalid(`${this.where}: sec_ref ${secRef} names no SECURITY object of the image`);
      secRef = this.securityObject(s);
    }
    const caps = c.caps;
    for (const set of [caps.inheritable, caps.permitted, caps.effective, caps.bounding, caps.ambient])
      if (BigInt.asUintN(64, set) !== set) throw invalid(`${this.where}: capability set ${set} is not a 64-bit set`);
    const why = credExtReasons(c);
    if (why.length > 0) this.expressible(why);
    const ref = this.objref(c, this.obj.CRED);
    const { out } = this;
    const at = out.record(this.rec.CRED, layout);
    out.u32(at + 8, c.uid);
    out.u32(at + 12, c.suid);
    out.u32(at + 16, c.euid);
    out.u32(at + 20, c.fsuid);
    out.u32(at + 24, c.gid);
    out.u32(at + 28, c.sgid);
    out.u32(at + 32, c.egid);
    out.u32(at + 36, c.fsgid);
    out.s32(at + 40, userRef);
    out.s32(at + 44, groupsRef);
    let p = at + 48;
    if (layout === 96) {
      out.s32(at + 48, secRef);
      p = at + 56;
    }
    out.caps(p, caps.inheritable);
    out.caps(p + 8, caps.permitted);
    out.caps(p + 16, caps.effective);
    out.caps(p + 24, caps.bounding);
    out.u32(p + 32, (c.securebits ?? 0) & SEED_SECUREBITS_MASK);
    if (why.length > 0) {
      const e = out.record(RecordType.CRED_EXT, CRED_EXT_LEN);
      out.s32(e + 8, ref);
      out.u32(e + 12, c.securebits === null ? CredExtFlag.SECUREBITS_UNKNOWN : 0);
      out.caps(e + 16, caps.ambient);
      out.u32(e + 24, c.securebits ?? 0);
    }
    this.unmapped(c, ref);
    return ref;
  }

  /** UNMAPPED_EXT after the CRED (and its CRED_EXT), when the cred holds unmapped ids. */
  private unmapped(c: Cred, ref: number): void {
    let u: ReturnType<typeof unmappedEntries>;
    try {
      u = unmappedEntries(c);
    } catch (e) {
      throw invalid(`${this.where}: ${(e as Error).message}`);
    }
    if (!u) return;
    this.expressible(['ids with no mapping in the user namespace']);
    const { out } = this;
    const at = out.record(RecordType.UNMAPPED_EXT, unmappedExtLen(u.entries.length));
    out.s32(at + 8, ref);
    out.u32(at + 12, u.flags);
    out.u32(at + 16, u.entries.length);
    let p = at + UNMAPPED_EXT_BASE;
    for (const e of u.entries) {
      const nsRef = this.refs.get(e.ns);
      if (nsRef === undefined) throw invalid(`${this.where}: an unmapped id's namespace was not written before its cred`);
      out.u32(p, e.field);
      out.s32(p + 4, nsRef);
      out.u32(p + 8, e.id);
      p += UNMAPPED_ENTRY_SIZE;
    }
  }
}

/** Encodes an image; byte-exact to the linux-cr layouts, shared objects written once. */
export function encode(image: Image, opts: EncodeOptions = {}): Uint8Array {
  return new Encoder(image, opts).run();
}
