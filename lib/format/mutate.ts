// Seeded mutations of valid images, for the fuzz test and scripts/fuzz-codec.js: bit flips,
// truncations, len and count rewrites, splices of record ranges. Deterministic per seed.

/** mulberry32: a small, fast, seeded PRNG; returns [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Includes the record and object numbers where the dialects differ.
const INTERESTING = [0, 1, 2, 3, 7, 8, 12, 13, 14, 15, 16, 22, 23, 24, 101, 102, 113, 114, 117, 118, 72, 73, 88, 96, 0x7f, 0xff, 0x100, 0xffff, 65536, 65537, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

/** Record start offsets of a (possibly damaged) image, walking while lens are sane. */
function recordOffsets(b: Uint8Array, le: boolean): number[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let off = 0; off + 8 <= b.length && out.length < 100000; ) {
    out.push(off);
    const len = v.getUint32(off + 4, le);
    if (len < 8) break;
    off += len;
  }
  return out;
}

/** One mutated copy of `bytes` (1-3 mutations). */
export function mutate(bytes: Uint8Array, rand: () => number, le = true): Uint8Array {
  let b: Uint8Array = bytes.slice();
  const n = 1 + Math.floor(rand() * 3);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  for (let i = 0; i < n; i++) {
    const recs = recordOffsets(b, le);
    const kind = Math.floor(rand() * 6);
    if (b.length === 0) break;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (kind) {
      case 0: {
        // bit flip
        const at = Math.floor(rand() * b.length);
        b[at] ^= 1 << Math.floor(rand() * 8);
        break;
      }
      case 1: {
        // truncate, often at a record boundary
        const at = rand() < 0.5 && recs.length ? pick(recs) + Math.floor(rand() * 12) : Math.floor(rand() * b.length);
        b = b.slice(0, Math.min(at, b.length));
        break;
      }
      case 2: {
        // rewrite a record's len
        const at = pick(recs);
        if (at + 8 <= b.length) v.setUint32(at + 4, pick(INTERESTING) + (rand() < 0.3 ? Math.floor(rand() * 16) - 8 : 0), le);
        break;
      }
      case 3: {
        // rewrite a field of a record (type, counts, refs, objtypes) to an interesting value
        const at = pick(recs) + 4 * Math.floor(rand() * 6);
        if (at + 4 <= b.length) v.setUint32(at, pick(INTERESTING), le);
        break;
      }
      case 4: {
        // splice: copy a run of records to another record boundary
        if (recs.length < 2) break;
        const from = pick(recs);
        const to = pick(recs);
        const len = Math.min(b.length - from, 8 + Math.floor(rand() * 120));
        const piece = b.slice(from, from + len);
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, to));
        out.set(piece, to);
        out.set(b.subarray(to), to + len);
        b = out;
        break;
      }
      default: {
        // delete a record
        if (recs.length < 2) break;
        const k = Math.floor(rand() * (recs.length - 1));
        const out = new Uint8Array(b.length - (recs[k + 1] - recs[k]));
        out.set(b.subarray(0, recs[k]));
        out.set(b.subarray(recs[k + 1]), recs[k]);
        b = out;
      }
    }
  }
  return b;
}
