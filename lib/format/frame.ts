// Framing checks shared by decode() and the stream reader, so both refuse the same bytes with
// the same error: the head magic (which also tells the byte order) and each record's len.
import {
  HEAD_MAGIC,
  MAX_BUFFER_LEN,
  MAX_GROUPINFO_LEN,
  MAX_RECORD_LEN,
  RecordSize,
  RecordType,
} from './constants';
import type { DialectTable } from './dialects';
import { ImageFormatError } from './errors';

/** Bytes a reader needs before it can tell the byte order: the header's hdr and magic. */
export const HEAD_PROBE_LEN = 16;

const HEAD_MAGIC_HI = Number(HEAD_MAGIC >> 32n);
const HEAD_MAGIC_LO = Number(HEAD_MAGIC & 0xffffffffn);

/** True for little-endian, false for big-endian; throws when the magic reads neither way. */
export function headByteOrder(view: DataView, at: number): boolean {
  if (view.getUint32(at + 8, true) === HEAD_MAGIC_LO && view.getUint32(at + 12, true) === HEAD_MAGIC_HI)
    return true;
  if (view.getUint32(at + 8, false) === HEAD_MAGIC_HI && view.getUint32(at + 12, false) === HEAD_MAGIC_LO)
    return false;
  throw new ImageFormatError(
    'head-magic',
    0,
    'HEADER',
    `magic reads neither 0x00feed0cc0a2d200 little- nor big-endian`,
  );
}

/**
 * The largest len a reader accepts for a record of this type, before buffering it. `d` is the
 * dialect read so far (the default one before TREE tells), which says which type is GROUPINFO.
 */
export function maxRecordLen(type: number, d: DialectTable): number {
  return type === d.record.GROUPINFO ? MAX_GROUPINFO_LEN : type === RecordType.BUFFER ? MAX_BUFFER_LEN : MAX_RECORD_LEN;
}

/**
 * Checks a record's len before anything is sliced or allocated for it. `remaining` counts the
 * bytes from the record's start to the end of the image (Infinity when a stream does not know).
 */
export function checkFrame(type: number, len: number, offset: number, remaining: number, d: DialectTable): void {
  if (len < RecordSize.HDR)
    throw new ImageFormatError('record-len', offset, d.recordName(type), `len ${len} is smaller than the 8-byte record header`);
  const max = maxRecordLen(type, d);
  if (len > max)
    throw new ImageFormatError('record-too-large', offset, d.recordName(type), `len ${len} exceeds the ${max}-byte limit for this record`);
  if (len > remaining)
    throw new ImageFormatError('len-beyond-image', offset, d.recordName(type), `len ${len} runs past the end of the image (${remaining} bytes left)`);
}

export function truncated(offset: number, have: number, need: number): ImageFormatError {
  return new ImageFormatError(
    'truncated',
    offset,
    offset === 0 ? 'HEADER' : 'RECORD',
    `the image ends ${have} bytes into a record header that needs ${need}`,
  );
}
