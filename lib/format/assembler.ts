// The one record parser and validator. decode() and the stream reader both frame records and
// hand each one here, so the rules live in one place. Records arrive in image order as
// (view, at, offset, type, len): `at` indexes `view`, `offset` is the record's place in the image
// (what errors report). Nothing here allocates more than the record in hand says and holds.
import type {
  Capabilities,
  CapSet,
  Cred,
  GroupInfo,
  TaskCreds,
  TaskPids,
  User,
  UserNamespace,
} from '../model/types';
import {
  NGROUPS_MAX,
  OBJ_TYPE_MAX,
  ObjType,
  RecordSize,
  RecordType,
  TAIL_MAGIC,
  objTypeName,
  recordName,
} from './constants';
import { ImageFormatError, type FormatRule } from './errors';
import {
  CRED_EXT_FLAGS,
  CRED_EXT_LEN,
  CredExtFlag,
  EXTENT_SIZE,
  MAX_ID_EXTENTS,
  TASK_EXT_FLAGS,
  TASK_EXT_LEN,
  TaskExtFlag,
  USERNS_EXT_BASE,
  USERNS_EXT_FLAGS,
  UsernsExtFlag,
  readExtents,
  usernsExtLen,
} from './extensions';
import type { CredLayout, Image, ImageHeader, SecurityObject } from './types';
import { readUnmappedExt } from './unmapped-ext';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const enum Phase {
  Header,
  Uts,
  Tree,
  Pids,
  Body,
  Done,
}

/** Records this parser interprets; every other type is skipped by len. */
const KNOWN = new Set<number>([
  RecordType.HEADER,
  RecordType.BUFFER,
  RecordType.OBJREF,
  RecordType.TREE,
  RecordType.USER_NS,
  RecordType.CRED,
  RecordType.USER,
  RecordType.GROUPINFO,
  RecordType.TASK_CREDS,
  RecordType.CRED_EXT,
  RecordType.USERNS_EXT,
  RecordType.TASK_EXT,
  RecordType.UNMAPPED_EXT,
  RecordType.TAIL,
]);

/** The object type each object record restores. */
const OBJ_OF_RECORD = new Map<number, number>([
  [RecordType.USER_NS, ObjType.USER_NS],
  [RecordType.CRED, ObjType.CRED],
  [RecordType.USER, ObjType.USER],
  [RecordType.GROUPINFO, ObjType.GROUPINFO],
]);

const TWO32 = 4294967296;
/** objType of an objref whose OBJREF is read but whose object is not restored yet. */
const PENDING = -1;
const TAIL_HI = Number(TAIL_MAGIC >> 32n);
const TAIL_LO = Number(TAIL_MAGIC & 0xffffffffn);

/** What decode learns beside the image: the objref each shared object had in the bytes. */
export interface DecodeDetails {
  objrefs: Map<object, number>;
}

export class ImageAssembler {
  /** Byte order, set by the framer from the head magic before the first record. */
  le = true;
  private phase = Phase.Header;
  private header: Mutable<ImageHeader> | undefined;
  private uts: string[] = [];
  private nrTasks = 0;
  /** The pids BUFFER, read entry by entry as TASK_CREDS arrive (no copy). */
  private pidsView: DataView | undefined;
  private pidsAt = 0;
  private credLayout: CredLayout | undefined;
  private tasks: TaskCreds[] = [];
  private nTasks = 0;
  private readonly security: SecurityObject[] = [];
  /** Object table by objref. Valid images number densely from 1, so arrays; a hostile huge
   *  objref only makes the array sparse (V8 dictionary mode), never large. */
  private readonly objType: number[] = [];
  private readonly objValue: unknown[] = [];
  /** objref of each object, kept only when asked for (inspect shows them). */
  readonly objrefs: Map<object, number> | undefined;

  /**
   * OBJREFs whose object record has not come yet, innermost last. The flat form cr-creds
   * writes has at most one; a kernel-written image nests them (checkpoint_obj() writes a
   * CRED's OBJREF, then its GROUPINFO's and USER's objects, then the CRED), and the next object
   * record always closes the innermost one. objType holds PENDING for their refs meanwhile.
   */
  private readonly pendTypes: number[] = [];
  private readonly pendRefs: number[] = [];
  /** The record before the current one, for extension placement. */
  private prevType = 0;
  private prevValue: unknown;
  private prevRef = 0;
  private readonly capCache = new Map<number, CapSet>();

  constructor(opts: { trackObjrefs?: boolean } = {}) {
    if (opts.trackObjrefs) this.objrefs = new Map();
  }

  get done(): boolean {
    return this.phase === Phase.Done;
  }

  record(view: DataView, at: number, offset: number, type: number, len: number): void {
    const prevType = this.prevType;
    this.prevType = type;
    if (this.phase !== Phase.Body) return this.frameRecord(view, at, offset, type, len);
    if (this.pendTypes.length > 0)
      return type === RecordType.OBJREF ? this.readObjref(view, at, offset, len) : this.readObject(view, at, offset, type, len);
    // Literal cases: a switch over module-object properties costs a load per case per record.
    switch (type) {
      case 118: // TASK_CREDS
        return this.readTaskCreds(view, at, offset, len);
      case 6: // OBJREF
        return this.readObjref(view, at, offset, len);
      case 8001: // CRED_EXT
        return this.readCredExt(view, at, offset, len, prevType);
      case 8002: // USERNS_EXT
        return this.readUsernsExt(view, at, offset, len, prevType);
      case 8003: // TASK_EXT
        return this.readTaskExt(view, at, offset, len, prevType);
      case 8004: // UNMAPPED_EXT
        return readUnmappedExt(view, at, len, {
          le: this.le, prevType, prevRef: this.prevRef, prevValue: this.prevValue,
          userns: (ref) => this.fetch<UserNamespace>(ref, ObjType.USER_NS, offset, type, 'userns_ref'),
          fail: (text) => this.err('extension', offset, type, text),
        });
      case 9001: // TAIL
        return this.readTail(view, at, offset, len);
    }
    if (type >= KNOWN_TABLE.length || KNOWN_TABLE[type] === 0) return; // unknown types are skipped by len
    throw this.err('record-order', offset, type, OBJ_OF_RECORD.has(type) ? 'object record without an OBJREF before it' : 'record out of place in a creds image');
  }

  /** Records before the body (header, uts, tree, pids) and after the tail. */
  private frameRecord(view: DataView, at: number, offset: number, type: number, len: number): void {
    switch (this.phase) {
      case Phase.Done:
        throw new ImageFormatError('after-tail', offset, recordName(type), 'a record follows the TAIL');
      case Phase.Header:
        return this.readHeader(view, at, offset, type, len);
    }
    if (type >= KNOWN_TABLE.length || KNOWN_TABLE[type] === 0) return; // unknown types are skipped by len
    switch (this.phase) {
      case Phase.Uts:
        return this.readUts(view, at, offset, type, len);
      case Phase.Tree:
        return this.readTree(view, at, offset, type, len);
      default:
        return this.readPids(view, at, offset, type, len);
    }
  }

  /** The image, once the bytes have ended at `end`. */
  finish(end: number): Image {
    if (this.phase !== Phase.Done)
      throw new ImageFormatError('tail-missing', end, 'TAIL', 'the image ends without a TAIL record');
    const image: Image = {
      header: this.header as ImageHeader,
      credLayout: this.credLayout ?? 88,
      tasks: this.tasks,
    };
    if (this.security.length > 0) image.security = this.security;
    return image;
  }

  private err(rule: FormatRule, offset: number, type: number, text: string): ImageFormatError {
    return new ImageFormatError(rule, offset, recordName(type), text);
  }

  private fixedLen(offset: number, type: number, len: number, want: number): void {
    if (len !== want) throw this.err('record-len', offset, type, `len ${len}, the record is ${want} bytes`);
  }

  private readHeader(view: DataView, at: number, offset: number, type: number, len: number): void {
    if (type !== RecordType.HEADER) throw this.err('record-order', offset, type, 'the image must start with a HEADER record');
    this.fixedLen(offset, type, len, RecordSize.HEADER);
    const le = this.le;
    const constants: number[] = new Array(12);
    for (let i = 0; i < 12; i++) constants[i] = view.getUint16(at + 32 + 2 * i, le);
    this.header = {
      byteOrder: le ? 'little' : 'big',
      arch: view.getUint16(at + 16, le),
      kernel: {
        major: view.getUint16(at + 18, le),
        minor: view.getUint16(at + 20, le),
        patch: view.getUint16(at + 22, le),
        rev: view.getUint16(at + 24, le),
      },
      constants,
      time: view.getBigUint64(at + 56, le),
      uflags: view.getBigUint64(at + 64, le),
      uts: { release: '', version: '', machine: '' },
    };
    this.phase = Phase.Uts;
  }

  private readUts(view: DataView, at: number, offset: number, type: number, len: number): void {
    if (type !== RecordType.BUFFER) throw this.err('record-order', offset, type, 'three uts BUFFER records must follow the HEADER');
    this.fixedLen(offset, type, len, RecordSize.UTS_BUFFER);
    // latin1, one char per byte up to the first NUL, so any bytes decode and encode back
    // unchanged. A byte loop: these strings are short, and a typed-array view plus
    // fromCharCode.apply cost more than the rest of a small image's decode.
    let text = '';
    for (let p = at + 8, end = at + len; p < end; p++) {
      const c = view.getUint8(p);
      if (c === 0) break;
      text += String.fromCharCode(c);
    }
    this.uts.push(text);
    if (this.uts.length === 3) {
      const h = this.header as Mutable<ImageHeader>;
      h.uts = { release: this.uts[0], version: this.uts[1], machine: this.uts[2] };
      this.phase = Phase.Tree;
    }
  }

  private readTree(view: DataView, at: number, offset: number, type: number, len: number): void {
    if (type !== RecordType.TREE) throw this.err('record-order', offset, type, 'a TREE record must follow the uts buffers');
    this.fixedLen(offset, type, len, RecordSize.TREE);
    this.nrTasks = view.getUint32(at + 8, this.le);
    this.phase = Phase.Pids;
  }

  private readPids(view: DataView, at: number, offset: number, type: number, len: number): void {
    if (type !== RecordType.BUFFER) throw this.err('record-order', offset, type, 'a BUFFER of task pids must follow the TREE');
    const want = 8 + RecordSize.PIDS_ENTRY * this.nrTasks;
    if (len !== want)
      throw this.err('pids-buffer', offset, type, `len ${len}, but TREE counts ${this.nrTasks} tasks of 24 bytes (len ${want})`);
    this.pidsView = view;
    this.pidsAt = at + 8;
    // Sized once: the BUFFER just read holds 24 bytes per task, so this is bounded by the image.
    this.tasks = new Array<TaskCreds>(this.nrTasks);
    this.phase = Phase.Body;
  }

  private readObjref(view: DataView, at: number, offset: number, len: number): void {
    const type = RecordType.OBJREF;
    this.fixedLen(offset, type, len, RecordSize.OBJREF);
    const objtype = view.getUint32(at + 8, this.le);
    const ref = view.getInt32(at + 12, this.le);
    if (objtype > OBJ_TYPE_MAX) throw this.err('objtype', offset, type, `object type ${objtype} is outside the table (0..${OBJ_TYPE_MAX})`);
    if (ref <= 0) throw this.err('objref-positive', offset, type, `objref ${ref} is not positive`);
    if (this.objType[ref] !== undefined) throw this.err('objref-unique', offset, type, `objref ${ref} is already defined`);
    this.objType[ref] = PENDING;
    this.pendTypes.push(objtype);
    this.pendRefs.push(ref);
  }

  /** The record right after an OBJREF: the object's own record. */
  private readObject(view: DataView, at: number, offset: number, type: number, len: number): void {
    const objtype = this.pendTypes.pop() as number;
    const ref = this.pendRefs.pop() as number;
    const recordObj = OBJ_OF_RECORD.get(type);
    // A creds object must be followed by its own record; any other object by a record this
    // parser does not interpret (kept opaque).
    if (OBJ_OF_RECORD_VALUES.has(objtype) ? recordObj !== objtype : KNOWN.has(type))
      throw this.err('objtype', offset, type, `OBJREF ${ref} announces a ${objTypeName(objtype)} object, but a ${recordName(type)} record follows`);
    let value: unknown;
    switch (type) {
      case RecordType.GROUPINFO:
        value = this.readGroupinfo(view, at, offset, len);
        break;
      case RecordType.USER:
        value = this.readUser(view, at, offset, len);
        break;
      case RecordType.USER_NS:
        value = this.readUserns(view, at, offset, len);
        break;
      case RecordType.CRED:
        value = this.readCred(view, at, offset, len);
        break;
      default: {
        // An object cr-creds does not interpret: SECURITY is kept for round trips, others skipped.
        if (objtype === ObjType.SECURITY) {
          const body = new Uint8Array(len - 8);
          body.set(new Uint8Array(view.buffer, view.byteOffset + at + 8, len - 8));
          value = { objref: ref, type, body };
          this.security.push(value as SecurityObject);
        } else value = null;
      }
    }
    this.objType[ref] = objtype;
    this.objValue[ref] = value;
    if (this.objrefs && value !== null && typeof value === 'object') this.objrefs.set(value, ref);
    this.prevValue = value;
    this.prevRef = ref;
  }

  /** The object `ref` names, checked to be of `objtype`. */
  private fetch<T>(ref: number, objtype: number, offset: number, type: number, field: string): T {
    const t = ref > 0 ? this.objType[ref] : undefined;
    if (t === undefined || t === PENDING) throw this.err('ref-missing', offset, type, `${field} ${ref} names no earlier object`);
    if (t !== objtype)
      throw this.err('ref-type', offset, type, `${field} ${ref} names a ${objTypeName(t)} object, not ${objTypeName(objtype)}`);
    return this.objValue[ref] as T;
  }

  private readGroupinfo(view: DataView, at: number, offset: number, len: number): GroupInfo {
    const type = RecordType.GROUPINFO;
    if (len < RecordSize.GROUPINFO_BASE) throw this.err('record-len', offset, type, `len ${len} is below the 16-byte GROUPINFO struct`);
    const le = this.le;
    const n = view.getUint32(at + 8, le);
    if (n > NGROUPS_MAX) throw this.err('ngroups-max', offset, type, `ngroups ${n} exceeds NGROUPS_MAX (${NGROUPS_MAX})`);
    if (len !== RecordSize.GROUPINFO_BASE + 4 * n)
      throw this.err('groupinfo-len', offset, type, `ngroups ${n} needs len ${RecordSize.GROUPINFO_BASE + 4 * n}, the record has ${len}`);
    const gids: number[] = new Array(n);
    let prev = -1;
    for (let i = 0, p = at + 12; i < n; i++, p += 4) {
      const g = view.getUint32(p, le);
      if (g <= prev) throw this.err('groups-order', offset, type, `gid ${g} at index ${i} does not ascend from ${prev}`);
      gids[i] = prev = g;
    }
    return { gids };
  }

  private readUser(view: DataView, at: number, offset: number, len: number): User {
    const type = RecordType.USER;
    this.fixedLen(offset, type, len, RecordSize.USER);
    const uid = view.getUint32(at + 8, this.le);
    const ns = this.fetch<UserNamespace>(view.getInt32(at + 12, this.le), ObjType.USER_NS, offset, type, 'userns_ref');
    return { uid, ns };
  }

  private readUserns(view: DataView, at: number, offset: number, len: number): UserNamespace {
    const type = RecordType.USER_NS;
    this.fixedLen(offset, type, len, RecordSize.USER_NS);
    const ref = view.getInt32(at + 8, this.le);
    if (ref === 0) return { creator: null };
    if (ref < 0 || this.objType[ref] !== ObjType.USER)
      throw this.err('userns-creator', offset, type, `creator_ref ${ref} names no earlier USER`);
    return { creator: this.objValue[ref] as User };
  }

  private cap(lo: number, hi: number): CapSet {
    if (hi === 0 && lo === 0) return 0n;
    // Exact as a number key while hi < 2^21; creds repeat a handful of sets, so cache them.
    if (hi < 0x200000) {
      const key = hi * TWO32 + lo;
      let c = this.capCache.get(key);
      if (c === undefined) {
        c = (BigInt(hi) << 32n) | BigInt(lo);
        this.capCache.set(key, c);
      }
      return c;
    }
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  private readCred(view: DataView, at: number, offset: number, len: number): Cred {
    const type = RecordType.CRED;
    if (len !== RecordSize.CRED_88 && len !== RecordSize.CRED_96)
      throw this.err('record-len', offset, type, `len ${len}, a CRED is 88 or 96 bytes`);
    if (this.credLayout === undefined) this.credLayout = len as CredLayout;
    else if (this.credLayout !== len)
      throw this.err('record-len', offset, type, `len ${len}, but this image's CREDs are ${this.credLayout} bytes`);
    const le = this.le;
    const groups = this.fetch<GroupInfo>(view.getInt32(at + 44, le), ObjType.GROUPINFO, offset, type, 'groupinfo_ref');
    const user = this.fetch<User>(view.getInt32(at + 40, le), ObjType.USER, offset, type, 'user_ref');
    let c = at + 48;
    let secRef = 0;
    if (len === RecordSize.CRED_96) {
      secRef = view.getInt32(at + 48, le);
      if (secRef > 0) this.fetch<unknown>(secRef, ObjType.SECURITY, offset, type, 'sec_ref');
      c = at + 56;
    }
    const caps: Capabilities = {
      inheritable: this.cap(view.getUint32(c, le), view.getUint32(c + 4, le)),
      permitted: this.cap(view.getUint32(c + 8, le), view.getUint32(c + 12, le)),
      effective: this.cap(view.getUint32(c + 16, le), view.getUint32(c + 20, le)),
      bounding: this.cap(view.getUint32(c + 24, le), view.getUint32(c + 28, le)),
      ambient: 0n,
    };
    const cred: Cred = {
      uid: view.getUint32(at + 8, le),
      euid: view.getUint32(at + 16, le),
      suid: view.getUint32(at + 12, le),
      fsuid: view.getUint32(at + 20, le),
      gid: view.getUint32(at + 24, le),
      egid: view.getUint32(at + 32, le),
      sgid: view.getUint32(at + 28, le),
      fsgid: view.getUint32(at + 36, le),
      groups,
      user,
      caps,
      securebits: view.getUint32(c + 32, le),
    };
    if (secRef !== 0) cred.secRef = secRef;
    return cred;
  }

  private readTaskCreds(view: DataView, at: number, offset: number, len: number): void {
    const type = 118; // TASK_CREDS
    if (len !== 16) this.fixedLen(offset, type, len, RecordSize.TASK_CREDS);
    const le = this.le;
    const credRef = le ? view.getInt32(at + 8, true) : view.getInt32(at + 8, false);
    const ecredRef = le ? view.getInt32(at + 12, true) : view.getInt32(at + 12, false);
    if (credRef <= 0 || ecredRef <= 0)
      throw this.err('task-cred', offset, type, `cred_ref ${credRef}, ecred_ref ${ecredRef}: a task needs both creds`);
    // The hot path of big images: check the table inline, call fetch() only to report.
    const types = this.objType;
    const values = this.objValue;
    if (types[credRef] !== 14 /* CRED */) this.fetch<Cred>(credRef, ObjType.CRED, offset, type, 'cred_ref');
    if (types[ecredRef] !== 14 /* CRED */) this.fetch<Cred>(ecredRef, ObjType.CRED, offset, type, 'ecred_ref');
    const cred = values[credRef] as Cred;
    const ecred = values[ecredRef] as Cred;
    const i = this.nTasks;
    if (i >= this.nrTasks)
      throw this.err('tree-count', offset, type, `TASK_CREDS #${i + 1}, but TREE counts ${this.nrTasks} tasks`);
    const pv = this.pidsView as DataView;
    const b = this.pidsAt + 24 * i;
    // Constant byte-order arguments let the JIT emit plain loads (the hottest path of big images).
    const pids: TaskPids = le
      ? {
          vpid: pv.getInt32(b, true),
          vppid: pv.getInt32(b + 4, true),
          vtgid: pv.getInt32(b + 8, true),
          vpgid: pv.getInt32(b + 12, true),
          vsid: pv.getInt32(b + 16, true),
          depth: pv.getUint32(b + 20, true),
        }
      : {
          vpid: pv.getInt32(b, false),
          vppid: pv.getInt32(b + 4, false),
          vtgid: pv.getInt32(b + 8, false),
          vpgid: pv.getInt32(b + 12, false),
          vsid: pv.getInt32(b + 16, false),
          depth: pv.getUint32(b + 20, false),
        };
    const task: TaskCreds = { pids, cred, ecred, noNewPrivs: false };
    this.tasks[i] = task;
    this.nTasks = i + 1;
    this.prevValue = task;
  }

  private readCredExt(view: DataView, at: number, offset: number, len: number, prevType: number): void {
    const type = RecordType.CRED_EXT;
    if (prevType !== RecordType.CRED) throw this.err('extension', offset, type, 'CRED_EXT must follow the CRED it extends');
    if (len !== CRED_EXT_LEN) throw this.err('extension', offset, type, `len ${len}, CRED_EXT is ${CRED_EXT_LEN} bytes`);
    const le = this.le;
    const ref = view.getInt32(at + 8, le);
    const flags = view.getUint32(at + 12, le);
    const cred = this.prevValue as Cred;
    if (ref !== this.prevRef) throw this.err('extension', offset, type, `cred_ref ${ref} is not the CRED before it (${this.prevRef})`);
    if ((flags & ~CRED_EXT_FLAGS) !== 0) throw this.err('extension', offset, type, `unknown flags 0x${flags.toString(16)}`);
    const sb = view.getUint32(at + 24, le);
    const seedSb = cred.securebits as number;
    if (flags & CredExtFlag.SECUREBITS_UNKNOWN) {
      if (sb !== 0 || seedSb !== 0) throw this.err('extension', offset, type, 'securebits marked unknown but not 0');
      cred.securebits = null;
    } else {
      if ((sb & 0x3f) !== seedSb) throw this.err('extension', offset, type, `securebits 0x${sb.toString(16)} disagree with the CRED's 0x${seedSb.toString(16)}`);
      cred.securebits = sb;
    }
    cred.caps.ambient = this.cap(view.getUint32(at + 16, le), view.getUint32(at + 20, le));
  }

  private readUsernsExt(view: DataView, at: number, offset: number, len: number, prevType: number): void {
    const type = RecordType.USERNS_EXT;
    if (prevType !== RecordType.USER_NS) throw this.err('extension', offset, type, 'USERNS_EXT must follow the USER_NS it extends');
    if (len < USERNS_EXT_BASE) throw this.err('extension', offset, type, `len ${len} is below the ${USERNS_EXT_BASE}-byte USERNS_EXT struct`);
    const le = this.le;
    const ref = view.getInt32(at + 8, le);
    const flags = view.getUint32(at + 12, le);
    const inode = view.getBigUint64(at + 16, le);
    const nUid = view.getUint32(at + 24, le);
    const nGid = view.getUint32(at + 28, le);
    if (ref !== this.prevRef) throw this.err('extension', offset, type, `userns_ref ${ref} is not the USER_NS before it (${this.prevRef})`);
    if ((flags & ~USERNS_EXT_FLAGS) !== 0) throw this.err('extension', offset, type, `unknown flags 0x${flags.toString(16)}`);
    if (nUid > MAX_ID_EXTENTS || nGid > MAX_ID_EXTENTS)
      throw this.err('extension', offset, type, `${nUid} uid and ${nGid} gid extents; a map holds at most ${MAX_ID_EXTENTS}`);
    if (len !== usernsExtLen(nUid, nGid))
      throw this.err('extension', offset, type, `len ${len}, ${nUid} + ${nGid} extents need ${usernsExtLen(nUid, nGid)}`);
    if ((nUid > 0 && !(flags & UsernsExtFlag.UID_MAP_KNOWN)) || (nGid > 0 && !(flags & UsernsExtFlag.GID_MAP_KNOWN)))
      throw this.err('extension', offset, type, 'extents for a map not marked known');
    if ((flags & UsernsExtFlag.SETGROUPS_DENY) && !(flags & UsernsExtFlag.SETGROUPS_KNOWN))
      throw this.err('extension', offset, type, 'setgroups deny without setgroups known');
    if (inode !== 0n && !(flags & UsernsExtFlag.INODE_KNOWN)) throw this.err('extension', offset, type, 'inode set but not marked known');
    const ns = this.prevValue as Mutable<UserNamespace>;
    const p = at + USERNS_EXT_BASE;
    if (flags & UsernsExtFlag.UID_MAP_KNOWN) ns.uidMap = readExtents(view, p, nUid, le);
    if (flags & UsernsExtFlag.GID_MAP_KNOWN) ns.gidMap = readExtents(view, p + EXTENT_SIZE * nUid, nGid, le);
    if (flags & UsernsExtFlag.SETGROUPS_KNOWN) ns.setgroups = flags & UsernsExtFlag.SETGROUPS_DENY ? 'deny' : 'allow';
    if (flags & UsernsExtFlag.INODE_KNOWN) ns.inode = inode;
  }

  private readTaskExt(view: DataView, at: number, offset: number, len: number, prevType: number): void {
    const type = RecordType.TASK_EXT;
    if (prevType !== RecordType.TASK_CREDS) throw this.err('extension', offset, type, 'TASK_EXT must follow the TASK_CREDS it extends');
    if (len !== TASK_EXT_LEN) throw this.err('extension', offset, type, `len ${len}, TASK_EXT is ${TASK_EXT_LEN} bytes`);
    const flags = view.getUint32(at + 8, this.le);
    if ((flags & ~TASK_EXT_FLAGS) !== 0) throw this.err('extension', offset, type, `unknown flags 0x${flags.toString(16)}`);
    (this.prevValue as TaskCreds).noNewPrivs = (flags & TaskExtFlag.NO_NEW_PRIVS) !== 0;
  }

  private readTail(view: DataView, at: number, offset: number, len: number): void {
    const type = RecordType.TAIL;
    this.fixedLen(offset, type, len, RecordSize.TAIL);
    const le = this.le;
    const lo = view.getUint32(at + (le ? 8 : 12), le);
    const hi = view.getUint32(at + (le ? 12 : 8), le);
    if (lo !== TAIL_LO || hi !== TAIL_HI) throw this.err('tail-magic', offset, type, 'tail magic is not 0x002d2a0cc0deef00');
    if (this.nTasks !== this.nrTasks)
      throw this.err('tree-count', offset, type, `TREE counts ${this.nrTasks} tasks, the image has ${this.nTasks} TASK_CREDS`);
    this.phase = Phase.Done;
  }
}

const KNOWN_TABLE = new Uint8Array(RecordType.TAIL + 1);
for (const t of KNOWN) KNOWN_TABLE[t] = 1;
const OBJ_OF_RECORD_VALUES = new Set<number>(OBJ_OF_RECORD.values());
