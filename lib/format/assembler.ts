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
import { MAX_LSM_NAME_LEN, NGROUPS_MAX, RecordSize, RecordType, TAIL_MAGIC } from './constants';
import { DEFAULT_DIALECT, DIALECTS, V21, V23, type DialectTable } from './dialects';
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
import type { CredLayout, Image, ImageHeader, ImagePrefix, SecurityObject } from './types';
import { readUnmappedExt } from './unmapped-ext';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const enum Phase {
  Header,
  Uts,
  /** After the uts BUFFERs: the optional real-kernel prefix, then TREE. */
  Prefix,
  /** v23 after PIDS: its BUFFER of PID objects. */
  PidObjects,
  /** v23 after the PID objects: TREE. */
  PidsTree,
  Pids,
  Body,
  Done,
}

/** Where the optional CONTAINER part of the prefix stands. */
const enum Container {
  None,
  /** CONTAINER read: its LSM-name BUFFER or LSM_INFO may follow. */
  Open,
  /** The LSM-name BUFFER read: LSM_INFO may follow. */
  Named,
  /** LSM_INFO read: only TREE may follow. */
  Closed,
}

/** The longest LSM-name BUFFER accepted (the series writes 8 + 11). */
const MAX_LSM_NAME_BUFFER = RecordSize.HDR + MAX_LSM_NAME_LEN;

/**
 * Per dialect: the record types that are out of place in the body of an image (the frame's
 * records, and creds object records, which only an OBJREF may introduce). Every other type
 * the body holds (tasks, threads, files, memory, signals, BUFFERs, STRINGs...) is passed over.
 */
function bodyRefused(d: DialectTable): Uint8Array {
  const t = new Uint8Array(RecordType.TAIL + 1);
  const r = d.record;
  for (const x of [RecordType.HEADER, RecordType.HEADER_ARCH, RecordType.CONTAINER, RecordType.LSM_INFO, r.TREE, r.USER_NS, r.CRED, r.USER, r.GROUPINFO])
    t[x] = 1;
  if (r.PIDS) t[r.PIDS] = 1;
  return t;
}
const BODY_REFUSED = { v21: bodyRefused(V21), v23: bodyRefused(V23) };

/**
 * Before TREE tells the dialect: the types that may not stand there in either dialect (the
 * task-creds records and objects, OBJREF, extensions, TAIL). Unknown types are passed over.
 */
const PREFIX_REFUSED = new Set<number>([
  RecordType.OBJREF, RecordType.SECURITY, RecordType.CRED_EXT, RecordType.USERNS_EXT, RecordType.TASK_EXT, RecordType.UNMAPPED_EXT, RecordType.TAIL,
  V21.record.USER_NS, V21.record.CRED, V21.record.USER, V21.record.GROUPINFO, V21.record.TASK_CREDS,
  V23.record.USER_NS, V23.record.CRED, V23.record.USER, V23.record.GROUPINFO, V23.record.TASK_CREDS,
]);

/** Types that stand in the frame (between HEADER and the pids BUFFER) or may not stand there. */
const FRAME_TYPES = new Set<number>([
  ...PREFIX_REFUSED, RecordType.HEADER, RecordType.HEADER_ARCH, RecordType.CONTAINER, RecordType.BUFFER, RecordType.LSM_INFO,
  V21.record.TREE, V23.record.TREE,
]);

const FRAME_TABLE = new Uint8Array(RecordType.TAIL + 1);
for (const t of FRAME_TYPES) FRAME_TABLE[t] = 1;

/** The records a SECURITY object's OBJREF may not be closed by: the ones this parser reads. */
function interpreted(d: DialectTable): Set<number> {
  const r = d.record;
  return new Set<number>([
    RecordType.HEADER, RecordType.BUFFER, RecordType.OBJREF, r.TREE, r.USER_NS, r.CRED, r.USER, r.GROUPINFO, r.TASK_CREDS,
    RecordType.CRED_EXT, RecordType.USERNS_EXT, RecordType.TASK_EXT, RecordType.UNMAPPED_EXT, RecordType.TAIL,
  ]);
}
const INTERPRETED = { v21: interpreted(V21), v23: interpreted(V23) };

/** A record's name before TREE tells the dialect: the seed's name, else the 2011 one. */
function prefixName(type: number): string {
  const n = V21.recordName(type);
  return n.startsWith('TYPE_') ? V23.recordName(type) : n;
}

/** objType of an objref whose OBJREF is read but whose object is not restored yet. */
const PENDING = -1;
const TAIL_HI = Number(TAIL_MAGIC >> 32n);
const TAIL_LO = Number(TAIL_MAGIC & 0xffffffffn);

/** A u64 as a BigInt; 0 (uflags, mostly) without allocating one. */
function u64(view: DataView, at: number, le: boolean): bigint {
  return view.getUint32(at, le) === 0 && view.getUint32(at + 4, le) === 0 ? 0n : view.getBigUint64(at, le);
}

/** The header's time: images decoded again and again carry the same one (BigInts are immutable). */
let lastTimeLo = 0;
let lastTimeHi = 0;
let lastTime = 0n;
function time(view: DataView, at: number, le: boolean): bigint {
  const lo = view.getUint32(at + (le ? 0 : 4), le);
  const hi = view.getUint32(at + (le ? 4 : 0), le);
  if (lo !== lastTimeLo || hi !== lastTimeHi) {
    lastTime = (BigInt(hi) << 32n) | BigInt(lo);
    lastTimeLo = lo;
    lastTimeHi = hi;
  }
  return lastTime;
}

/** header.uts until the third uts BUFFER is read (decode never returns it). */
const NO_UTS: ImageHeader['uts'] = Object.freeze({ release: '', version: '', machine: '' });
/** tasks until the pids BUFFER sizes them (decode never returns it). */
const NO_TASKS: TaskCreds[] = [];

/** Slots the object tables start with (a creds-only image of a task or two needs about 8). */
const OBJ_TABLE_START = 8;

/** Bodies of no bytes are one shared array: nothing can be written into it. */
const EMPTY = new Uint8Array(0);

/** A copy of `n` bytes at `from` (none: the shared empty array): one allocation. */
function copyBytes(view: DataView, from: number, n: number): Uint8Array {
  if (n === 0) return EMPTY;
  const out = new Uint8Array(n);
  if (n <= 64) for (let i = 0; i < n; i++) out[i] = view.getUint8(from + i);
  else out.set(new Uint8Array(view.buffer, view.byteOffset + from, n));
  return out;
}

/** Whether the bytes at `from` begin with all of `kept` (byte against byte: cheaper than a
 *  string's chars, whose every read checks how the string is stored). */
function startsWith(view: DataView, from: number, kept: Uint8Array): boolean {
  const n = kept.length;
  let k = 0;
  while (k < n && kept[k] === view.getUint8(from + k)) k++;
  return k === n;
}

/**
 * A prefix record's body as a byte string (one char per byte). The prefix repeats from image to
 * image, so each part keeps the last string it made (and its bytes) and hands it out again while
 * the bytes say the same (strings are immutable: sharing them is safe); a body over PREFIX_KEEP
 * bytes is made afresh, so nothing large outlives its decode.
 */
const enum PrefixPart {
  HeaderArch,
  Container,
  LsmName,
  LsmInfo,
}
const PREFIX_LAST: string[] = ['', '', '', ''];
const PREFIX_LAST_BYTES: Uint8Array[] = [EMPTY, EMPTY, EMPTY, EMPTY];
const PREFIX_KEEP = 64;

function prefixBody(part: PrefixPart, view: DataView, at: number, len: number): string {
  const n = len - 8;
  const from = at + 8;
  const kept = PREFIX_LAST_BYTES[part];
  if (kept.length === n && startsWith(view, from, kept)) return PREFIX_LAST[part];
  if (n > PREFIX_KEEP) return Buffer.from(view.buffer, view.byteOffset + from, n).toString('latin1');
  let text = '';
  for (let k = 0; k < n; k++) text += String.fromCharCode(view.getUint8(from + k));
  PREFIX_LAST_BYTES[part] = copyBytes(view, from, n);
  return (PREFIX_LAST[part] = text);
}

/**
 * uts strings (latin1, one char per byte up to the first NUL, so any bytes decode and encode
 * back unchanged) repeat from image to image: the ones met are kept in a fixed table, one per
 * slot chosen by a hash of the bytes and checked char by char, so a decode usually allocates
 * none (and looks up no Map).
 */
const UTS_SLOTS = 256;
const UTS_CACHE: (string | undefined)[] = new Array<string | undefined>(UTS_SLOTS).fill(undefined);

/** The strings of the last image, by uts BUFFER (release, version, machine), and their bytes. */
const UTS_LAST: string[] = ['', '', ''];
const UTS_LAST_BYTES: Uint8Array[] = [EMPTY, EMPTY, EMPTY];

/** The uts string of BUFFER `i` (0..2): the last image's if the bytes say the same. */
function utsStringAt(i: number, view: DataView, from: number, end: number): string {
  const kept = UTS_LAST_BYTES[i];
  const n = kept.length;
  if (from + n < end && view.getUint8(from + n) === 0 && startsWith(view, from, kept)) return UTS_LAST[i];
  const text = utsString(view, from, end);
  UTS_LAST_BYTES[i] = copyBytes(view, from, text.length);
  return (UTS_LAST[i] = text);
}

function utsString(view: DataView, from: number, end: number): string {
  let h = 0;
  let p = from;
  for (; p < end; p++) {
    const c = view.getUint8(p);
    if (c === 0) break;
    h = (Math.imul(h, 31) + c) | 0;
  }
  const n = p - from;
  const slot = h & (UTS_SLOTS - 1);
  const known = UTS_CACHE[slot];
  if (known !== undefined && known.length === n) {
    let same = true;
    for (let i = 0; i < n && same; i++) same = known.charCodeAt(i) === view.getUint8(from + i);
    if (same) return known;
  }
  let text = '';
  for (let q = from; q < p; q++) text += String.fromCharCode(view.getUint8(q));
  UTS_CACHE[slot] = text;
  return text;
}

/**
 * Capability sets by their two words: creds repeat a handful of sets, across images too, and
 * BigInts are immutable, so one fixed table serves every decode: a slot per hash of the words,
 * the words kept beside the value to check a hit (no Map, no number key to box).
 */
const CAP_SLOTS = 4096;
const CAP_LO = new Uint32Array(CAP_SLOTS);
const CAP_HI = new Uint32Array(CAP_SLOTS);
const CAP_VALUE: (bigint | undefined)[] = new Array<bigint | undefined>(CAP_SLOTS).fill(undefined);

/** Per dialect, indexed by record type - 100: the object type that record restores, or -1. */
function objOfRecordTable(d: DialectTable): Int8Array {
  const t = new Int8Array(32).fill(-1);
  const r = d.record;
  const o = d.obj;
  t[r.USER_NS - 100] = o.USER_NS;
  t[r.CRED - 100] = o.CRED;
  t[r.USER - 100] = o.USER;
  t[r.GROUPINFO - 100] = o.GROUPINFO;
  return t;
}
const OBJ_OF_RECORD = { v21: objOfRecordTable(V21), v23: objOfRecordTable(V23) };

/** Per dialect, indexed by object type: 1 for the objects whose OBJREF waits for their record. */
function pendingTable(d: DialectTable): Uint8Array {
  const t = new Uint8Array(d.objTypeMax + 1);
  for (const x of [d.obj.CRED, d.obj.GROUPINFO, d.obj.USER, d.obj.USER_NS, d.obj.SECURITY]) t[x] = 1;
  return t;
}
const PENDING_OBJECT = { v21: pendingTable(V21), v23: pendingTable(V23) };

/** What decode learns beside the image: the objref each shared object had in the bytes. */
export interface DecodeDetails {
  objrefs: Map<object, number>;
}

export class ImageAssembler {
  /** Byte order, set by the framer from the head magic before the first record. */
  le = true;
  /** The dialect: the default one until TREE tells which the image is written in. */
  table: DialectTable = DIALECTS[DEFAULT_DIALECT];
  private phase = Phase.Header;
  private header: Mutable<ImageHeader> | undefined;
  /** uts BUFFERs read so far, and the first two strings (the third completes header.uts). */
  private nUts = 0;
  private utsRelease = '';
  private utsVersion = '';
  private readonly prefix: ImagePrefix = {};
  private container = Container.None;
  private nrTasks = 0;
  /** v23 PIDS counts (0 without a PIDS record). */
  private nrPids = 0;
  private nrVpids = 0;
  /** The pids BUFFER, read entry by entry as TASK_CREDS arrive (no copy). */
  private pidsView: DataView | undefined;
  private pidsAt = 0;
  private credLayout: CredLayout | undefined;
  /** Sized at the pids BUFFER (finish() is never reached before it). */
  private tasks: TaskCreds[] = NO_TASKS;
  private nTasks = 0;
  private security: SecurityObject[] | undefined;
  /** The dialect's numbers the body's hot path compares against (set at TREE). */
  private tTaskCreds = V21.record.TASK_CREDS;
  private oCred = V21.obj.CRED;
  private refused: Uint8Array = BODY_REFUSED.v21;
  /** Object table by objref. Valid images number densely from 1, so arrays; a hostile huge
   *  objref only makes the array sparse (V8 dictionary mode), never large. */
  private readonly objType: number[] = new Array<number>(OBJ_TABLE_START);
  private readonly objValue: unknown[] = new Array<unknown>(OBJ_TABLE_START);
  /** objref of each object, kept only when asked for (inspect shows them). */
  readonly objrefs: Map<object, number> | undefined;

  /**
   * OBJREFs of creds and SECURITY objects whose record has not come yet: the innermost in
   * pendType/pendRef, the outer ones as (object type, objref) pairs in pendOuter. The
   * flat form cr-creds writes has at most one; a kernel-written image nests them
   * (checkpoint_obj() writes a CRED's OBJREF, then its GROUPINFO's and USER's objects, then the
   * CRED), and the next object record always closes the innermost one. objType holds PENDING
   * for their refs meanwhile. An object of another type (file, mm, namespace...) is made of
   * records this parser does not read; its OBJREF files its number and type at once.
   */
  private pendDepth = 0;
  private pendType = 0;
  private pendRef = 0;
  /** Made only when objects nest (kernel-written images). */
  private pendOuter: number[] | undefined;
  /** The record before the current one, for extension placement. */
  private prevType = 0;
  private prevValue: unknown;
  private prevRef = 0;
  private objOfRec: Int8Array = OBJ_OF_RECORD.v21;
  private pendObj: Uint8Array = PENDING_OBJECT.v21;

  /** false: check every task but keep none (validation of a huge image in bounded memory). */
  private readonly keepTasks: boolean;

  /** trackObjrefs: keep the objref of each shared object (inspect shows them). */
  constructor(trackObjrefs = false, keepTasks = true) {
    if (trackObjrefs) this.objrefs = new Map();
    this.keepTasks = keepTasks;
  }

  get done(): boolean {
    return this.phase === Phase.Done;
  }

  record(view: DataView, at: number, offset: number, type: number, len: number): void {
    const prevType = this.prevType;
    this.prevType = type;
    if (this.phase !== Phase.Body) return this.frameRecord(view, at, offset, type, len);
    if (this.pendDepth > 0)
      return type === RecordType.OBJREF ? this.readObjref(view, at, offset, len) : this.readObject(view, at, offset, type, len);
    // A big image is mostly TASK_CREDS. This method stays small enough for the engine to inline
    // it into the framer's loop, and readTaskCreds into it; the other records go on apart.
    if (type === this.tTaskCreds) return this.readTaskCreds(view, at, offset, len);
    return this.bodyRecord(view, at, offset, type, len, prevType);
  }

  /** The body's records but TASK_CREDS and those of an object an OBJREF announced. */
  private bodyRecord(view: DataView, at: number, offset: number, type: number, len: number, prevType: number): void {
    // Literal cases: a switch over module-object properties costs a load per case per record.
    switch (type) {
      case 6: // OBJREF
        return this.readObjref(view, at, offset, len);
      case 8001: // CRED_EXT
        return this.readCredExt(view, at, offset, len, prevType);
      case 8002: // USERNS_EXT
        return this.readUsernsExt(view, at, offset, len, prevType);
      case 8003: // TASK_EXT
        return this.readTaskExt(view, at, offset, len, prevType);
      case 8004: // UNMAPPED_EXT
        return this.readUnmappedExt(view, at, offset, len, prevType);
      case 9001: // TAIL
        return this.readTail(view, at, offset, len);
    }
    if (type >= this.refused.length || this.refused[type] === 0) return; // passed over by len
    throw this.err('record-order', offset, type, this.objOfRecord(type) >= 0 ? 'object record without an OBJREF before it' : 'record out of place in the body of an image');
  }

  /** Records before the body (header, uts, prefix, tree, pids) and after the tail. */
  private frameRecord(view: DataView, at: number, offset: number, type: number, len: number): void {
    switch (this.phase) {
      case Phase.Done:
        throw new ImageFormatError('after-tail', offset, this.table.recordName(type), 'a record follows the TAIL');
      case Phase.Header:
        return this.readHeader(view, at, offset, type, len);
      case Phase.Prefix:
        return this.readPrefix(view, at, offset, type, len);
    }
    if (type >= FRAME_TABLE.length || FRAME_TABLE[type] === 0) return; // other types are passed over by len
    switch (this.phase) {
      case Phase.Uts:
        return this.readUts(view, at, offset, type, len);
      case Phase.PidObjects:
        return this.readPidObjects(offset, type, len);
      case Phase.PidsTree:
        if (type !== V23.record.TREE) throw this.err('record-order', offset, type, 'TREE must follow the BUFFER of PID objects');
        return this.readTree(view, at, offset, type, len, V23);
    }
    return this.readPids(view, at, offset, type, len);
  }

  /** The image, once the bytes have ended at `end`. */
  finish(end: number): Image {
    if (this.phase !== Phase.Done)
      throw new ImageFormatError('tail-missing', end, 'TAIL', 'the image ends without a TAIL record');
    const image: Image = {
      header: this.header as ImageHeader,
      dialect: this.table.name,
      prefix: this.prefix,
      credLayout: this.credLayout ?? 88,
      tasks: this.tasks,
    };
    if (this.security !== undefined) image.security = this.security;
    return image;
  }

  private err(rule: FormatRule, offset: number, type: number, text: string): ImageFormatError {
    return new ImageFormatError(rule, offset, this.phase <= Phase.Prefix ? prefixName(type) : this.table.recordName(type), text);
  }

  private fixedLen(offset: number, type: number, len: number, want: number): void {
    if (len !== want) throw this.err('record-len', offset, type, `len ${len}, the record is ${want} bytes`);
  }

  /** The object type a record of `type` restores, -1 for none. */
  private objOfRecord(type: number): number {
    const i = type - 100;
    return i >= 0 && i < 32 ? this.objOfRec[i] : -1;
  }

  /** Whether OBJREFs of this object type wait for the object's own record. */
  private pendingObject(objtype: number): boolean {
    return this.pendObj[objtype] === 1;
  }

  private readHeader(view: DataView, at: number, offset: number, type: number, len: number): void {
    if (type !== RecordType.HEADER) throw this.err('record-order', offset, type, 'the image must start with a HEADER record');
    this.fixedLen(offset, type, len, RecordSize.HEADER);
    const le = this.le;
    const c = at + 32;
    const constants = [
      view.getUint16(c, le), view.getUint16(c + 2, le), view.getUint16(c + 4, le), view.getUint16(c + 6, le),
      view.getUint16(c + 8, le), view.getUint16(c + 10, le), view.getUint16(c + 12, le), view.getUint16(c + 14, le),
      view.getUint16(c + 16, le), view.getUint16(c + 18, le), view.getUint16(c + 20, le), view.getUint16(c + 22, le),
    ];
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
      time: time(view, at + 56, le),
      uflags: u64(view, at + 64, le),
      uts: NO_UTS,
    };
    this.phase = Phase.Uts;
  }

  private readUts(view: DataView, at: number, offset: number, type: number, len: number): void {
    if (type !== RecordType.BUFFER) throw this.err('record-order', offset, type, 'three uts BUFFER records must follow the HEADER');
    this.fixedLen(offset, type, len, RecordSize.UTS_BUFFER);
    const n = ++this.nUts;
    const text = utsStringAt(n - 1, view, at + 8, at + len);
    if (n === 1) this.utsRelease = text;
    else if (n === 2) this.utsVersion = text;
    else {
      (this.header as Mutable<ImageHeader>).uts = { release: this.utsRelease, version: this.utsVersion, machine: text };
      this.phase = Phase.Prefix;
    }
  }

  /**
   * After the uts BUFFERs: [HEADER_ARCH] [CONTAINER [lsm-name BUFFER] [LSM_INFO]], then TREE,
   * whose number tells the dialect (101 in v21; 102 in v23, where 101 is PIDS). Types the
   * series defines elsewhere are passed over.
   */
  private readPrefix(view: DataView, at: number, offset: number, type: number, len: number): void {
    const p = this.prefix;
    // Literal cases, as in record().
    switch (type) {
      case 2: // HEADER_ARCH
        if (p.headerArch !== undefined || this.container !== Container.None)
          throw this.err('record-order', offset, type, 'HEADER_ARCH comes once, before CONTAINER');
        p.headerArch = prefixBody(PrefixPart.HeaderArch, view, at, len);
        return;
      case 3: // CONTAINER
        if (this.container !== Container.None) throw this.err('record-order', offset, type, 'CONTAINER comes once, before TREE');
        p.container = { body: prefixBody(PrefixPart.Container, view, at, len) };
        this.container = Container.Open;
        return;
      case 4: // BUFFER
        if (this.container !== Container.Open)
          throw this.err('record-order', offset, type, 'a TREE record must follow the uts buffers (a BUFFER here must be the LSM name right after CONTAINER)');
        if (len > MAX_LSM_NAME_BUFFER) throw this.err('record-len', offset, type, `len ${len}, an LSM-name BUFFER is at most ${MAX_LSM_NAME_BUFFER} bytes`);
        (p.container as NonNullable<ImagePrefix['container']>).lsmName = prefixBody(PrefixPart.LsmName, view, at, len);
        this.container = Container.Named;
        return;
      case 7: // LSM_INFO
        if (this.container !== Container.Open && this.container !== Container.Named)
          throw this.err('record-order', offset, type, 'LSM_INFO comes once, after CONTAINER');
        (p.container as NonNullable<ImagePrefix['container']>).lsmInfo = prefixBody(PrefixPart.LsmInfo, view, at, len);
        this.container = Container.Closed;
        return;
      case 101: // v21 TREE (16 bytes) or v23 PIDS (24 bytes)
        if (len === RecordSize.PIDS) return this.readPidsHeader(view, at, offset, len);
        if (len !== RecordSize.TREE)
          throw this.err('record-len', offset, type, `len ${len}: record 101 is a v21 TREE of ${RecordSize.TREE} bytes or a v23 PIDS of ${RecordSize.PIDS}`);
        return this.readTree(view, at, offset, type, len, V21);
      case 102: // v23 TREE
        return this.readTree(view, at, offset, type, len, V23);
    }
    if (type === RecordType.HEADER || PREFIX_REFUSED.has(type)) throw this.err('record-order', offset, type, 'a TREE record must follow the uts buffers');
  }

  /**
   * A v23 kernel's PIDS: `s32 nr_pids, nr_vpids, offset`, checked as the series' restart tool
   * checked them; then one BUFFER of PID objects (passed over, its len checked), then TREE.
   */
  private readPidsHeader(view: DataView, at: number, offset: number, len: number): void {
    this.setDialect(V23);
    this.phase = Phase.PidObjects;
    const type = V23.record.PIDS;
    const le = this.le;
    const nrPids = view.getInt32(at + 8, le);
    const nrVpids = view.getInt32(at + 12, le);
    const pidOffset = view.getInt32(at + 16, le);
    if (nrPids <= 0) throw this.err('pids-count', offset, type, `nr_pids ${nrPids} is not positive`);
    if (nrVpids < 0) throw this.err('pids-count', offset, type, `nr_vpids ${nrVpids} is negative`);
    if (pidOffset < 0) throw this.err('pids-count', offset, type, `offset ${pidOffset} is negative`);
    this.nrPids = nrPids;
    this.nrVpids = nrVpids;
  }

  /**
   * The BUFFER after PIDS: nr_pids PID objects (`s32 depth` and the pid numbers) and nr_vpids
   * more numbers. The size of the fixed part of a PID object is not certain (4 or 8 bytes, see
   * docs/image-format.md), so either total is accepted; nothing else.
   */
  private readPidObjects(offset: number, type: number, len: number): void {
    if (type !== RecordType.BUFFER) throw this.err('record-order', offset, type, 'a BUFFER of PID objects must follow PIDS');
    const body = len - RecordSize.HDR;
    const vpids = 4 * this.nrVpids;
    if (body !== 4 * this.nrPids + vpids && body !== 8 * this.nrPids + vpids)
      throw this.err('pids-buffer', offset, type, `len ${len}, but PIDS counts ${this.nrPids} pids and ${this.nrVpids} vpids (a body of ${4 * this.nrPids + vpids} or ${8 * this.nrPids + vpids} bytes)`);
    this.phase = Phase.PidsTree;
  }

  private setDialect(d: DialectTable): void {
    this.table = d;
    this.tTaskCreds = d.record.TASK_CREDS;
    this.oCred = d.obj.CRED;
    // Named loads, not by d.name: once both dialects were read, a load by key turns generic.
    const v21 = d === V21;
    this.refused = v21 ? BODY_REFUSED.v21 : BODY_REFUSED.v23;
    this.objOfRec = v21 ? OBJ_OF_RECORD.v21 : OBJ_OF_RECORD.v23;
    this.pendObj = v21 ? PENDING_OBJECT.v21 : PENDING_OBJECT.v23;
  }

  private readTree(view: DataView, at: number, offset: number, type: number, len: number, d: DialectTable): void {
    this.setDialect(d);
    this.phase = Phase.Pids;
    this.fixedLen(offset, type, len, RecordSize.TREE);
    this.nrTasks = view.getUint32(at + 8, this.le);
  }

  private readPids(view: DataView, at: number, offset: number, type: number, len: number): void {
    if (type !== RecordType.BUFFER) throw this.err('record-order', offset, type, 'a BUFFER of task pids must follow the TREE');
    const want = 8 + RecordSize.PIDS_ENTRY * this.nrTasks;
    if (len !== want)
      throw this.err('pids-buffer', offset, type, `len ${len}, but TREE counts ${this.nrTasks} tasks of 24 bytes (len ${want})`);
    this.pidsView = view;
    this.pidsAt = at + 8;
    // Sized once: the BUFFER just read holds 24 bytes per task, so this is bounded by the image.
    this.tasks = this.keepTasks ? new Array<TaskCreds>(this.nrTasks) : [];
    this.phase = Phase.Body;
  }

  private readObjref(view: DataView, at: number, offset: number, len: number): void {
    const type = RecordType.OBJREF;
    this.fixedLen(offset, type, len, RecordSize.OBJREF);
    const objtype = view.getUint32(at + 8, this.le);
    const ref = view.getInt32(at + 12, this.le);
    const max = this.table.objTypeMax;
    if (objtype > max) throw this.err('objtype', offset, type, `object type ${objtype} is outside the ${this.table.name} table (0..${max})`);
    if (ref <= 0) throw this.err('objref-positive', offset, type, `objref ${ref} is not positive`);
    if (this.objType[ref] !== undefined) throw this.err('objref-unique', offset, type, `objref ${ref} is already defined`);
    if (!this.pendingObject(objtype)) {
      // An object this parser does not read: its records are passed over as they come.
      this.objType[ref] = objtype;
      this.objValue[ref] = null;
      return;
    }
    this.objType[ref] = PENDING;
    if (this.pendDepth > 0) (this.pendOuter ??= []).push(this.pendType, this.pendRef);
    this.pendDepth++;
    this.pendType = objtype;
    this.pendRef = ref;
  }

  /** The record right after an OBJREF: the object's own record. */
  private readObject(view: DataView, at: number, offset: number, type: number, len: number): void {
    const objtype = this.pendType;
    const ref = this.pendRef;
    if (--this.pendDepth > 0) {
      const outer = this.pendOuter as number[];
      this.pendRef = outer.pop() as number;
      this.pendType = outer.pop() as number;
    }
    const d = this.table;
    const recordObj = this.objOfRecord(type);
    // A creds object must be followed by its own record; a SECURITY object by a record this
    // parser does not interpret (kept opaque).
    const isSecurity = objtype === d.obj.SECURITY;
    if (isSecurity ? INTERPRETED[d.name].has(type) : recordObj !== objtype)
      throw this.err('objtype', offset, type, `OBJREF ${ref} announces a ${d.objTypeName(objtype)} object, but a ${d.recordName(type)} record follows`);
    let value: unknown;
    if (isSecurity) {
      // A SECURITY object, kept verbatim for round trips.
      value = { objref: ref, type, body: copyBytes(view, at + 8, len - 8) };
      (this.security ??= []).push(value as SecurityObject);
    } else {
      const o = d.obj;
      if (recordObj === o.GROUPINFO) value = this.readGroupinfo(view, at, offset, type, len);
      else if (recordObj === o.USER) value = this.readUser(view, at, offset, type, len);
      else if (recordObj === o.USER_NS) value = this.readUserns(view, at, offset, type, len);
      else value = this.readCred(view, at, offset, type, len);
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
      throw this.err('ref-type', offset, type, `${field} ${ref} names a ${this.table.objTypeName(t)} object, not ${this.table.objTypeName(objtype)}`);
    return this.objValue[ref] as T;
  }

  private readGroupinfo(view: DataView, at: number, offset: number, type: number, len: number): GroupInfo {
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

  private readUser(view: DataView, at: number, offset: number, type: number, len: number): User {
    this.fixedLen(offset, type, len, RecordSize.USER);
    const uid = view.getUint32(at + 8, this.le);
    const ns = this.fetch<UserNamespace>(view.getInt32(at + 12, this.le), this.table.obj.USER_NS, offset, type, 'userns_ref');
    return { uid, ns };
  }

  private readUserns(view: DataView, at: number, offset: number, type: number, len: number): UserNamespace {
    this.fixedLen(offset, type, len, RecordSize.USER_NS);
    const ref = view.getInt32(at + 8, this.le);
    if (ref === 0) return { creator: null };
    if (ref < 0 || this.objType[ref] !== this.table.obj.USER)
      throw this.err('userns-creator', offset, type, `creator_ref ${ref} names no earlier USER`);
    return { creator: this.objValue[ref] as User };
  }

  private cap(lo: number, hi: number): CapSet {
    if (hi === 0 && lo === 0) return 0n;
    const slot = (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 20;
    const known = CAP_VALUE[slot];
    if (known !== undefined && CAP_LO[slot] === lo && CAP_HI[slot] === hi) return known;
    const c = (BigInt(hi) << 32n) | BigInt(lo);
    CAP_VALUE[slot] = c;
    CAP_LO[slot] = lo;
    CAP_HI[slot] = hi;
    return c;
  }

  private readCred(view: DataView, at: number, offset: number, type: number, len: number): Cred {
    if (len !== RecordSize.CRED_88 && len !== RecordSize.CRED_96)
      throw this.err('record-len', offset, type, `len ${len}, a CRED is 88 or 96 bytes`);
    if (this.credLayout === undefined) this.credLayout = len as CredLayout;
    else if (this.credLayout !== len)
      throw this.err('record-len', offset, type, `len ${len}, but this image's CREDs are ${this.credLayout} bytes`);
    const le = this.le;
    const groups = this.fetch<GroupInfo>(view.getInt32(at + 44, le), this.table.obj.GROUPINFO, offset, type, 'groupinfo_ref');
    const user = this.fetch<User>(view.getInt32(at + 40, le), this.table.obj.USER, offset, type, 'user_ref');
    let c = at + 48;
    let secRef = 0;
    if (len === RecordSize.CRED_96) {
      secRef = view.getInt32(at + 48, le);
      if (secRef > 0) this.fetch<unknown>(secRef, this.table.obj.SECURITY, offset, type, 'sec_ref');
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

  /** The bulk of a big image: every rule checked inline, the one broken found apart. */
  private readTaskCreds(view: DataView, at: number, offset: number, len: number): void {
    if (len !== 16) this.fixedLen(offset, this.tTaskCreds, len, RecordSize.TASK_CREDS);
    const le = this.le;
    const credRef = view.getInt32(at + 8, le);
    const ecredRef = view.getInt32(at + 12, le);
    const types = this.objType;
    const oCred = this.oCred;
    const i = this.nTasks;
    if (credRef <= 0 || ecredRef <= 0 || types[credRef] !== oCred || types[ecredRef] !== oCred || i >= this.nrTasks)
      this.taskCredsFault(offset, credRef, ecredRef);
    const values = this.objValue;
    const cred = values[credRef] as Cred;
    const ecred = values[ecredRef] as Cred;
    const pv = this.pidsView as DataView;
    const b = this.pidsAt + 24 * i;
    const pids: TaskPids = {
      vpid: pv.getInt32(b, le),
      vppid: pv.getInt32(b + 4, le),
      vtgid: pv.getInt32(b + 8, le),
      vpgid: pv.getInt32(b + 12, le),
      vsid: pv.getInt32(b + 16, le),
      depth: pv.getUint32(b + 20, le),
    };
    const task: TaskCreds = { pids, cred, ecred, noNewPrivs: false };
    if (this.keepTasks) this.tasks[i] = task;
    this.nTasks = i + 1;
    this.prevValue = task;
  }

  /** Throws the first rule a TASK_CREDS breaks, in readTaskCreds' order (it found one). */
  private taskCredsFault(offset: number, credRef: number, ecredRef: number): never {
    const type = this.tTaskCreds;
    if (credRef <= 0 || ecredRef <= 0)
      throw this.err('task-cred', offset, type, `cred_ref ${credRef}, ecred_ref ${ecredRef}: a task needs both creds`);
    this.fetch<Cred>(credRef, this.oCred, offset, type, 'cred_ref');
    this.fetch<Cred>(ecredRef, this.oCred, offset, type, 'ecred_ref');
    throw this.err('tree-count', offset, type, `TASK_CREDS #${this.nTasks + 1}, but TREE counts ${this.nrTasks} tasks`);
  }

  private readCredExt(view: DataView, at: number, offset: number, len: number, prevType: number): void {
    const type = RecordType.CRED_EXT;
    if (prevType !== this.table.record.CRED) throw this.err('extension', offset, type, 'CRED_EXT must follow the CRED it extends');
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
    if (prevType !== this.table.record.USER_NS) throw this.err('extension', offset, type, 'USERNS_EXT must follow the USER_NS it extends');
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
    if (prevType !== this.tTaskCreds) throw this.err('extension', offset, type, 'TASK_EXT must follow the TASK_CREDS it extends');
    if (len !== TASK_EXT_LEN) throw this.err('extension', offset, type, `len ${len}, TASK_EXT is ${TASK_EXT_LEN} bytes`);
    const flags = view.getUint32(at + 8, this.le);
    if ((flags & ~TASK_EXT_FLAGS) !== 0) throw this.err('extension', offset, type, `unknown flags 0x${flags.toString(16)}`);
    (this.prevValue as TaskCreds).noNewPrivs = (flags & TaskExtFlag.NO_NEW_PRIVS) !== 0;
  }

  /** In a method of its own: the closures would otherwise cost the caller a context per record. */
  private readUnmappedExt(view: DataView, at: number, offset: number, len: number, prevType: number): void {
    const type = RecordType.UNMAPPED_EXT;
    readUnmappedExt(view, at, len, {
      le: this.le, prevType, credType: this.table.record.CRED, prevRef: this.prevRef, prevValue: this.prevValue,
      userns: (ref) => this.fetch<UserNamespace>(ref, this.table.obj.USER_NS, offset, type, 'userns_ref'),
      fail: (text) => this.err('extension', offset, type, text),
    });
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

