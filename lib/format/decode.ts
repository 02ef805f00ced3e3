// decode(): frames the records of an image held in memory and hands each to the one parser.
import { ImageAssembler, type DecodeDetails } from './assembler';
import { MAX_GROUPINFO_LEN, MAX_RECORD_LEN, RecordSize, RecordType } from './constants';
import { ImageFormatError } from './errors';
import { HEAD_PROBE_LEN, checkFrame, headByteOrder, truncated } from './frame';
import { imageView } from './image-view';
import type { Image } from './types';

export type { DecodeDetails };

// Module constants read once, not through the constants module's objects per record.
const HDR: number = RecordSize.HDR;
const MAX_LEN: number = MAX_RECORD_LEN;
const TAIL: number = RecordType.TAIL;

/**
 * Frames and parses `bytes`. Without `problems` the first broken rule throws. With it (validate),
 * a broken rule inside a record is collected and reading goes on with framing alone (each
 * later record depends on the objects before it, so its meaning is no longer checked), which
 * still finds a damaged frame, a missing tail or trailing bytes further on.
 */
function run(bytes: Uint8Array, a: ImageAssembler, problems?: ImageFormatError[]): Image | undefined {
  // Said first, not left to what reads it: the kept small-image buffer would copy any array-like,
  // and cut the elements of a wider typed array to bytes.
  if (!ArrayBuffer.isView(bytes) || (bytes as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT !== 1)
    throw new TypeError('decode: the image must be a Uint8Array or Buffer');
  // length, not byteLength: the engine inlines the one, and calls out for the other.
  const n = bytes.length;
  if (n < HEAD_PROBE_LEN) throw truncated(0, n, HEAD_PROBE_LEN);
  const view = imageView(bytes, n);
  const le = headByteOrder(view, 0);
  a.le = le;
  let off = 0;
  let framingOnly = false;
  let tailSeen = false;
  while (off < n) {
    const remaining = n - off;
    if (remaining < HDR) throw truncated(off, remaining, HDR);
    // Constant byte-order arguments let the JIT emit plain loads.
    const type = le ? view.getUint32(off, true) : view.getUint32(off, false);
    const len = le ? view.getUint32(off + 4, true) : view.getUint32(off + 4, false);
    // checkFrame() only when the cheap bounds fail (it then throws or allows a big BUFFER).
    // GROUPINFO's own, lower limit too, so an oversized one breaks the rule the stream reader names.
    if (len < HDR || len > remaining || len > MAX_LEN || (len > MAX_GROUPINFO_LEN && type === a.table.record.GROUPINFO))
      checkFrame(type, len, off, remaining, a.table);
    if (!framingOnly) {
      try {
        a.record(view, off, off, type, len);
      } catch (e) {
        if (problems === undefined || !(e instanceof ImageFormatError)) throw e;
        problems.push(e);
        framingOnly = true;
      }
    }
    // A TAIL the parser accepted, or one that broke a rule (magic, count), ends the image.
    if (type === TAIL) tailSeen = true;
    off += len;
    // Only a TAIL ends the image (checked here, not per record, to keep the loop lean).
    if (type === TAIL && tailSeen && off < n) throw new ImageFormatError('after-tail', off, 'TAIL', 'data follows the TAIL');
  }
  if (!framingOnly) return a.finish(n);
  if (!tailSeen) throw new ImageFormatError('tail-missing', n, 'TAIL', 'the image ends without a TAIL record');
  return undefined;
}

/** Decodes a whole image; throws ImageFormatError at the first rule it breaks. */
export function decode(bytes: Uint8Array): Image {
  return run(bytes, new ImageAssembler()) as Image;
}

/** decode(), plus the objref each shared object (cred, user, namespace, groups) had. */
export function decodeDetailed(bytes: Uint8Array): { image: Image; details: DecodeDetails } {
  const a = new ImageAssembler(true);
  const image = run(bytes, a) as Image;
  return { image, details: { objrefs: a.objrefs as Map<object, number> } };
}

/**
 * The problems of an image, [] when it is valid; the first is what decode() throws. After a
 * broken rule inside a record, only the framing of the rest is checked (see run()).
 */
export function validate(bytes: Uint8Array): ImageFormatError[] {
  const problems: ImageFormatError[] = [];
  try {
    run(bytes, new ImageAssembler(), problems);
  } catch (e) {
    if (!(e instanceof ImageFormatError)) throw e;
    problems.push(e);
  }
  return problems;
}
