// CRIU's image file framing: leading magic numbers, then entries, each a u32 size followed by
// that many bytes of protobuf. Integers are in the dumping host's byte order (little-endian on
// x86-64 and arm64); the reader tells the order from the magic, the writer writes little-endian.
//
// The reader never allocates from a size it read: the whole file is bounded before it is read,
// entries are views into it, and a kind that holds one entry stops at a second (so a file of
// zeros, millions of empty entries, costs nothing beyond its bytes).
import { closeSync, read as readFd } from 'fs';
import { FileReadError, openRegularNoFollow } from '../files/open-input';
import { CriuImageError } from './errors';
import { decodeMessage, encodeMessage, type MessageName, type MessageShapes } from './schema';

/** criu/include/magic.h */
export const MAGIC = {
  IMG_COMMON: 0x54564319,
  IMG_SERVICE: 0x55105940,
  INVENTORY: 0x58313116,
  PSTREE: 0x50273030,
  CORE: 0x55053847,
  IDS: 0x54432030,
  CREDS: 0x54023547,
  USERNS: 0x55474906,
} as const;

/** One kind of image file: its magic, and whether IMG_COMMON_MAGIC precedes it. */
export interface ImageKind {
  readonly label: string;
  readonly magic: number;
  /** Since images v1.1 every image but the inventory starts with IMG_COMMON_MAGIC. */
  readonly common: boolean;
  readonly message: MessageName;
  /** The file holds exactly one entry (all but the pstree). */
  readonly single: boolean;
}

export const KINDS = {
  inventory: { label: 'inventory', magic: MAGIC.INVENTORY, common: false, single: true, message: 'InventoryEntry' },
  pstree: { label: 'pstree', magic: MAGIC.PSTREE, common: true, single: false, message: 'PstreeEntry' },
  core: { label: 'core', magic: MAGIC.CORE, common: true, single: true, message: 'CoreEntry' },
  ids: { label: 'ids', magic: MAGIC.IDS, common: true, single: true, message: 'TaskKobjIdsEntry' },
  creds: { label: 'creds', magic: MAGIC.CREDS, common: true, single: true, message: 'CredsEntry' },
  userns: { label: 'userns', magic: MAGIC.USERNS, common: true, single: true, message: 'UsernsEntry' },
} as const satisfies Record<string, ImageKind>;
export type KindName = keyof typeof KINDS;

/** No credential-bearing CRIU image comes near this; a bigger file is refused unread. */
export const MAX_FILE_BYTES = 64 << 20;
/** Per-entry bound (a core entry is a few KiB; a pstree entry grows with threads only). */
export const MAX_ENTRY_BYTES = 16 << 20;

export interface RawEntry {
  /** Offset of the entry's size prefix in the file. */
  offset: number;
  bytes: Uint8Array;
}

export interface ParsedImage {
  littleEndian: boolean;
  entries: RawEntry[];
}

/** Splits an image file into its entries, checking magic and sizes. `file` names it in errors. */
export function parseImage(buf: Uint8Array, file: string, kind: ImageKind): ParsedImage {
  const framed = frameEntries(buf, file, kind);
  return { littleEndian: framed.littleEndian, entries: [...framed.entries] };
}

/** parseImage(), the entries framed one at a time as they are asked for. */
function frameEntries(buf: Uint8Array, file: string, kind: ImageKind): { littleEndian: boolean; entries: Generator<RawEntry> } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u32 = (off: number, le: boolean): number => view.getUint32(off, le);
  const need = (off: number, n: number, what: string): void => {
    if (off + n > buf.byteLength)
      throw new CriuImageError(
        'truncated',
        file,
        off,
        `${what}: needs ${n} bytes, ${buf.byteLength - off} left`,
      );
  };

  need(0, 4, `${kind.label} image magic`);
  // The first magic tells the byte order: it is either IMG_COMMON/IMG_SERVICE or, for the
  // inventory, the image's own magic.
  const first = kind.common ? MAGIC.IMG_COMMON : kind.magic;
  let le: boolean;
  if (u32(0, true) === first) le = true;
  else if (u32(0, false) === first) le = false;
  else
    throw new CriuImageError(
      'bad-magic',
      file,
      0,
      `not a CRIU ${kind.label} image: magic 0x${u32(0, true).toString(16).padStart(8, '0')}, expected 0x${first.toString(16)}`,
    );
  let off = 4;
  if (kind.common) {
    need(off, 4, `${kind.label} image magic`);
    const m = u32(off, le);
    if (m !== kind.magic)
      throw new CriuImageError(
        'bad-magic',
        file,
        off,
        `not a CRIU ${kind.label} image: image magic 0x${m.toString(16).padStart(8, '0')}, expected 0x${kind.magic.toString(16)}`,
      );
    off += 4;
  }

  function* entries(): Generator<RawEntry> {
    for (let index = 0; off < buf.byteLength; index++) {
      if (buf.byteLength - off < 4)
        throw new CriuImageError('truncated', file, off, 'entry size prefix cut short', index);
      const size = u32(off, le);
      if (size > MAX_ENTRY_BYTES)
        throw new CriuImageError(
          'entry-size',
          file,
          off,
          `entry size ${size} exceeds the ${MAX_ENTRY_BYTES}-byte limit`,
          index,
        );
      if (size > buf.byteLength - off - 4)
        throw new CriuImageError(
          'truncated',
          file,
          off,
          `entry of ${size} bytes, only ${buf.byteLength - off - 4} left in the file`,
          index,
        );
      if (kind.single && index === 1)
        throw new CriuImageError('extra-entry', file, off, `a second entry; a ${kind.label} image holds one`, index);
      const entry = { offset: off, bytes: buf.subarray(off + 4, off + 4 + size) };
      off += 4 + size;
      yield entry;
    }
  }
  return { littleEndian: le, entries: entries() };
}

/** Decodes every entry of a parsed image as the kind's message. */
export function decodeEntries<N extends MessageName>(
  parsed: ParsedImage,
  file: string,
  message: N,
): MessageShapes[N][] {
  return parsed.entries.map((e, i) => {
    try {
      return decodeMessage(message, e.bytes);
    } catch (err) {
      throw new CriuImageError(
        'bad-entry',
        file,
        e.offset,
        `entry is not a valid ${message}: ${(err as Error).message}`,
        i,
      );
    }
  });
}

/**
 * Reads a whole image file within MAX_FILE_BYTES. Absent file: 'missing-file'. A link, FIFO or
 * device is refused before any blocking open and before a byte of it is read (lib/files).
 */
export async function readCriuFileBytes(file: string): Promise<Uint8Array> {
  const { fd, size } = openedNoFollow(file);
  try {
    if (size > MAX_FILE_BYTES)
      throw new CriuImageError(
        'file-size',
        file,
        0,
        `${size} bytes exceeds the ${MAX_FILE_BYTES}-byte limit`,
      );
    // Never more than the file holds, plus one byte to notice a file growing under us.
    const buf = Buffer.alloc(size + 1);
    let got = 0;
    for (;;) {
      const bytesRead = await new Promise<number>((resolve, reject) =>
        readFd(fd, buf, got, buf.length - got, got, (err, n) => (err ? reject(err) : resolve(n))),
      );
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    if (got > size)
      throw new CriuImageError('file-size', file, 0, `grew past its ${size} bytes while being read`);
    return buf.subarray(0, got);
  } catch (err) {
    if (err instanceof CriuImageError) throw err;
    throw new CriuImageError('io', file, 0, (err as Error).message);
  } finally {
    closeSync(fd);
  }
}

/** The fd of `file` opened as lib/files/open-input.ts's openRegularNoFollow does; errors typed. */
function openedNoFollow(file: string): { fd: number; size: number } {
  try {
    const { fd, stat } = openRegularNoFollow(file);
    return { fd, size: stat.size };
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    if (e.code === 'ERR_FILE_MISSING') throw new CriuImageError('missing-file', file, 0, 'no such file');
    if (e.code === 'ERR_FILE_TYPE') throw new CriuImageError('file-size', file, 0, e.message.slice(file.length + 2));
    throw new CriuImageError('io', file, 0, e.message);
  }
}

/**
 * Reads and decodes a whole image file of one kind, each entry decoded (and handed to `check`,
 * which may throw) as soon as it is framed: a bad entry stops the read before later ones cost
 * anything.
 */
export async function readCriuFile<K extends KindName>(
  file: string,
  kind: K,
  check?: (entry: MessageShapes[(typeof KINDS)[K]['message']], index: number) => void,
): Promise<MessageShapes[(typeof KINDS)[K]['message']][]> {
  const k = KINDS[kind];
  type M = MessageShapes[(typeof KINDS)[K]['message']];
  const framed = frameEntries(await readCriuFileBytes(file), file, k);
  const out: M[] = [];
  let i = 0;
  for (const e of framed.entries) {
    let m: M;
    try {
      m = decodeMessage(k.message, e.bytes) as M;
    } catch (err) {
      throw new CriuImageError('bad-entry', file, e.offset, `entry is not a valid ${k.message}: ${(err as Error).message}`, i);
    }
    check?.(m, i);
    out.push(m);
    i++;
  }
  return out;
}

/** Frames encoded entries as one image file (little-endian). */
export function frameImage(kind: ImageKind, entries: readonly Uint8Array[]): Buffer {
  const head = kind.common ? 8 : 4;
  const total = entries.reduce((n, e) => n + 4 + e.length, head);
  const out = Buffer.alloc(total);
  let off = 0;
  if (kind.common) off = out.writeUInt32LE(MAGIC.IMG_COMMON, off);
  off = out.writeUInt32LE(kind.magic, off);
  for (const e of entries) {
    off = out.writeUInt32LE(e.length, off);
    out.set(e, off);
    off += e.length;
  }
  return out;
}

/** Encodes messages and frames them as an image file of one kind. */
export function encodeImage<K extends KindName>(
  kind: K,
  values: readonly MessageShapes[(typeof KINDS)[K]['message']][],
): Buffer {
  const k: ImageKind = KINDS[kind];
  return frameImage(
    k,
    values.map((v) => encodeMessage(k.message, v as never)),
  );
}
