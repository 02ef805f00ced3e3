// The stream reader: records are read from a Node Readable one at a time, so memory is bounded by
// the largest record (itself capped before it is buffered), never by the image. Records go to
// the same parser as decode(), framed with the same checks.
import type { Readable } from 'stream';
import { ImageAssembler, type DecodeDetails } from './assembler';
import { RecordSize } from './constants';
import { DEFAULT_DIALECT, DIALECTS } from './dialects';
import { ImageFormatError } from './errors';
import { HEAD_PROBE_LEN, checkFrame, headByteOrder, truncated } from './frame';
import type { Image } from './types';

/** One framed record: its place in the image and its bytes, header included. */
export interface RawRecord {
  offset: number;
  type: number;
  len: number;
  littleEndian: boolean;
  bytes: Uint8Array;
}

/** Pulls exact byte counts out of a stream's chunks, holding only what is not yet consumed. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private first = 0; // chunks before this one are consumed (dropped in batches, not shift()ed)
  private head = 0; // consumed bytes of chunks[first]
  private size = 0;
  private ended = false;
  private readonly it: AsyncIterator<unknown>;

  constructor(stream: Readable) {
    this.it = stream[Symbol.asyncIterator]();
  }

  get available(): number {
    return this.size;
  }

  /** Waits until n bytes are buffered; false when the stream ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.size < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const v = r.value;
      const chunk = typeof v === 'string' ? Buffer.from(v, 'latin1') : (v as Uint8Array);
      if (chunk.byteLength === 0) continue;
      this.chunks.push(chunk);
      this.size += chunk.byteLength;
    }
    return this.size >= n;
  }

  /** Copies out the first n bytes (n <= available) without consuming them. */
  peek(n: number): Uint8Array {
    const first = this.chunks[this.first];
    if (first.byteLength - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = new Uint8Array(n);
    let got = 0;
    for (let i = this.first; got < n; i++) {
      const c = this.chunks[i];
      const from = i === this.first ? this.head : 0;
      const take = Math.min(n - got, c.byteLength - from);
      out.set(c.subarray(from, from + take), got);
      got += take;
    }
    return out;
  }

  take(n: number): Uint8Array {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  private skip(n: number): void {
    this.size -= n;
    while (n > 0) {
      const left = this.chunks[this.first].byteLength - this.head;
      if (n < left) {
        this.head += n;
        break;
      }
      n -= left;
      this.first++;
      this.head = 0;
    }
    if (this.first > 64 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}

async function* frames(stream: Readable, a?: ImageAssembler): AsyncGenerator<RawRecord> {
  const q = new ByteQueue(stream);
  if (!(await q.fill(HEAD_PROBE_LEN))) throw truncated(0, q.available, HEAD_PROBE_LEN);
  const probe = q.peek(HEAD_PROBE_LEN);
  const le = headByteOrder(new DataView(probe.buffer, probe.byteOffset, HEAD_PROBE_LEN), 0);
  if (a) a.le = le;
  let off = 0;
  for (;;) {
    if (!(await q.fill(1))) return;
    if (a?.done) {
      throw new ImageFormatError('after-tail', off, 'TAIL', 'data follows the TAIL');
    }
    if (!(await q.fill(RecordSize.HDR))) throw truncated(off, q.available, RecordSize.HDR);
    const h = q.peek(RecordSize.HDR);
    const hv = new DataView(h.buffer, h.byteOffset, RecordSize.HDR);
    const type = hv.getUint32(0, le);
    const len = hv.getUint32(4, le);
    const d = a?.table ?? DIALECTS[DEFAULT_DIALECT];
    checkFrame(type, len, off, Infinity, d);
    if (!(await q.fill(len))) checkFrame(type, len, off, q.available, d);
    const bytes = q.take(len);
    yield { offset: off, type, len, littleEndian: le, bytes };
    off += len;
  }
}

/** The records of an image, framed and length-checked but not interpreted. */
export function readRecords(stream: Readable): AsyncGenerator<RawRecord> {
  return frames(stream);
}

async function run(stream: Readable, a: ImageAssembler): Promise<Image> {
  let end = 0;
  for await (const r of frames(stream, a)) {
    a.record(new DataView(r.bytes.buffer, r.bytes.byteOffset, r.len), 0, r.offset, r.type, r.len);
    end = r.offset + r.len;
  }
  return a.finish(end);
}

/** Reads a whole image from a stream; the same rules and errors as decode(). */
export function readImage(stream: Readable): Promise<Image> {
  return run(stream, new ImageAssembler());
}

/** readImage(), plus the objref each shared object had (for inspect). */
export async function readImageDetailed(stream: Readable): Promise<{ image: Image; details: DecodeDetails }> {
  const a = new ImageAssembler({ trackObjrefs: true });
  const image = await run(stream, a);
  return { image, details: { objrefs: a.objrefs as Map<object, number> } };
}
