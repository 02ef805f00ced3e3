// Test helpers: an independent record walker and byte builders, so tests do not check the
// codec against itself.
import { Readable } from 'stream';
import { ImageBuilder } from '../../lib/format';
import type { ByteOrder, CredLayout, Dialect, Image } from '../../lib/format';

export interface Rec {
  offset: number;
  type: number;
  len: number;
}

/** Walks the records of a well-formed image. */
export function walk(bytes: Uint8Array, le = true): Rec[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Rec[] = [];
  for (let off = 0; off + 8 <= bytes.byteLength; ) {
    const type = v.getUint32(off, le);
    const len = v.getUint32(off + 4, le);
    out.push({ offset: off, type, len });
    if (len < 8) break;
    off += len;
  }
  return out;
}

export type Field = ['u16' | 'u32' | 's32', number] | ['u64', bigint] | ['pad', number] | ['bytes', Uint8Array];

/** Bytes laid out field by field in one byte order. */
export function lay(le: boolean, fields: Field[]): Uint8Array {
  const size = fields.reduce((n, [k, v]) => n + (k === 'u16' ? 2 : k === 'u64' ? 8 : k === 'pad' ? (v as number) : k === 'bytes' ? (v as Uint8Array).length : 4), 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const [k, v] of fields) {
    if (k === 'u16') (dv.setUint16(p, v as number, le), (p += 2));
    else if (k === 'u32') (dv.setUint32(p, v as number, le), (p += 4));
    else if (k === 's32') (dv.setInt32(p, v as number, le), (p += 4));
    else if (k === 'u64') (dv.setBigUint64(p, v as bigint, le), (p += 8));
    else if (k === 'pad') p += v as number;
    else (out.set(v as Uint8Array, p), (p += (v as Uint8Array).length));
  }
  return out;
}

/** A record: header {type, len} then the fields. */
export function record(le: boolean, type: number, fields: Field[]): Uint8Array {
  const body = lay(le, fields);
  return concat(lay(le, [['u32', type], ['u32', 8 + body.length]]), body);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const x of parts) (out.set(x, p), (p += x.length));
  return out;
}

export function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat(bytes.subarray(0, at), insert, bytes.subarray(at + remove));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/**
 * The golden image: one task whose cred has every field distinct, groups [10, 20], and a user
 * (uid 7) in a namespace created by root of the image's root namespace.
 */
export function goldenImage(byteOrder: ByteOrder = 'little', credLayout: CredLayout = 88, dialect: Dialect = 'v21'): Image {
  const b = new ImageBuilder({
    dialect,
    header: {
      byteOrder,
      time: 0x0102030405060708n,
      uflags: 0x11n,
      kernel: { major: 2, minor: 6, patch: 34, rev: 9 },
      uts: { release: 'R', version: 'V', machine: 'M' },
    },
    credLayout,
  });
  const ns1 = b.namespace(b.user(0));
  const cred = b.cred({
    uid: 1, euid: 2, suid: 3, fsuid: 4, gid: 5, egid: 6, sgid: 7, fsgid: 8,
    groups: [20, 10],
    user: b.user(7, ns1),
    caps: { inheritable: 0x1_00000002n, permitted: 0x3_00000004n, effective: 0x5_00000006n, bounding: 0x7_00000008n },
    securebits: 0x15,
  });
  b.task(cred, { pids: { vpid: 100, vppid: 99, vtgid: 101, vpgid: 102, vsid: 103, depth: 2 } });
  return b.build();
}

/** An image with every extension: ambient caps, high securebits, ns maps, no_new_privs. */
export function extendedImage(byteOrder: ByteOrder = 'little', dialect: Dialect = 'v21'): Image {
  const b = new ImageBuilder({ header: { byteOrder, time: 1n }, dialect });
  const ns1 = b.namespace(b.user(1000), {
    uidMap: [{ inside: 0, outside: 1000, count: 1 }],
    gidMap: [{ inside: 0, outside: 100, count: 2 }, { inside: 5, outside: 200, count: 3 }],
    setgroups: 'deny',
    inode: 0x1_f000_0001n,
  });
  const c1 = b.cred({ uid: 0, user: b.user(0, ns1), caps: { permitted: 0x400n, inheritable: 0x400n, ambient: 0x1_0000_0400n }, securebits: 0x55 });
  const c2 = b.cred({ uid: 5, securebits: null });
  b.task(c1, { ecred: c2, noNewPrivs: true });
  return b.build();
}

/**
 * The numbers of each dialect, written out from the reference's tables (not taken from the
 * codec), so tests check the codec against the series rather than against itself. R: record
 * types; O: object types.
 */
export const NUM = {
  v21: {
    TREE: 101, TASK: 102, TASK_NS: 103, TASK_OBJS: 104, RESTART_BLOCK: 105, THREAD: 106, CPU: 107,
    NS: 108, UTS_NS: 109, IPC_NS: 110, MNT_NS: 111, CAPABILITIES: 112,
    USER_NS: 113, CRED: 114, USER: 115, GROUPINFO: 116, TASK_CREDS: 117,
    O_INODE: 1, O_FILE_TABLE: 2, O_FILE: 3, O_MM: 4, O_FS: 5, O_SIGHAND: 6, O_SIGNAL: 7,
    O_NS: 8, O_UTS_NS: 9, O_IPC_NS: 10, O_MNT_NS: 11,
    O_USER_NS: 12, O_CRED: 13, O_USER: 14, O_GROUPINFO: 15,
    O_SOCK: 16, O_TTY: 17, O_SECURITY_PTR: 18, O_SECURITY: 19, O_NET_NS: 20, O_NETDEV: 21, O_SEM_UNDO: 22,
    O_MAX: 22,
  },
  v23: {
    TREE: 102, TASK: 103, TASK_NS: 104, TASK_OBJS: 105, RESTART_BLOCK: 106, THREAD: 107, CPU: 108,
    NS: 109, UTS_NS: 110, IPC_NS: 111, MNT_NS: 112, CAPABILITIES: 113,
    USER_NS: 114, CRED: 115, USER: 116, GROUPINFO: 117, TASK_CREDS: 118,
    O_INODE: 2, O_FILE_TABLE: 3, O_FILE: 4, O_MM: 5, O_FS: 6, O_SIGHAND: 7, O_SIGNAL: 8,
    O_NS: 9, O_UTS_NS: 10, O_IPC_NS: 11, O_MNT_NS: 12,
    O_USER_NS: 13, O_CRED: 14, O_USER: 15, O_GROUPINFO: 16,
    O_SOCK: 17, O_TTY: 18, O_SECURITY_PTR: 19, O_SECURITY: 20, O_NET_NS: 21, O_NETDEV: 22, O_SEM_UNDO: 23,
    O_MAX: 23,
  },
} as const;
export const BOTH_DIALECTS = ['v21', 'v23'] as const;

/** The prefix our writer emits (x86): HEADER_ARCH, CONTAINER, the LSM-name BUFFER, LSM_INFO. */
export function expectedPrefix(le: boolean): Uint8Array {
  const name = new Uint8Array(11);
  name.set(Buffer.from('default', 'latin1'));
  return concat(
    record(le, 2, [['u16', 1], ['u16', 0], ['u16', 512], ['pad', 2]]),
    record(le, 3, []),
    record(le, 4, [['bytes', name]]),
    record(le, 7, []),
  );
}
/** Bytes of that prefix: 16 + 8 + 19 + 8. */
export const PREFIX_LEN = 51;

/**
 * `head`, then zeros without end: a reader that tried to buffer a record would never finish.
 * `pulled()` counts the chunks taken after the head.
 */
export function endlessAfter(head: Uint8Array): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  const stream = Readable.from(
    (function* () {
      yield Buffer.from(head);
      for (;;) {
        pulled++;
        yield Buffer.alloc(65536);
      }
    })(),
  );
  return { stream, pulled: () => pulled };
}
