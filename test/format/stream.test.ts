// The stream reader: records framed one at a time from any chunking, byte offsets kept, and
// the same answers as decode() for valid and damaged input.
import { Readable } from 'stream';
import { ImageFormatError, decode, encode, readImage, readImageDetailed, readRecords } from '../../lib/format';
import { concat, extendedImage, goldenImage, walk } from './helpers';

const byteStream = (b: Uint8Array) => Readable.from((function* () { for (const x of b) yield Buffer.of(x); })());

test('readRecords yields every record with its offset, even one byte at a time', async () => {
  const bytes = encode(extendedImage('big'));
  const got: { offset: number; type: number; len: number }[] = [];
  for await (const r of readRecords(byteStream(bytes))) {
    expect(r.littleEndian).toBe(false);
    expect(Buffer.compare(Buffer.from(r.bytes), Buffer.from(bytes.subarray(r.offset, r.offset + r.len)))).toBe(0);
    got.push({ offset: r.offset, type: r.type, len: r.len });
  }
  expect(got).toEqual(walk(bytes, false));
});

test('readImage from one-byte chunks equals decode', async () => {
  const bytes = encode(goldenImage('little', 96));
  expect(await readImage(byteStream(bytes))).toEqual(decode(bytes));
});

test('readImageDetailed gives the objrefs of the shared objects', async () => {
  const bytes = encode(goldenImage());
  const { image, details } = await readImageDetailed(Readable.from([Buffer.from(bytes)]));
  const cred = image.tasks[0].cred;
  expect(details.objrefs.get(cred)).toBe(6);
  expect(details.objrefs.get(cred.groups)).toBe(1);
  expect(details.objrefs.get(cred.user)).toBe(5);
});

test('decode reads a view at a non-zero byteOffset (a pooled Buffer)', () => {
  const bytes = encode(goldenImage());
  const padded = concat(new Uint8Array(13), bytes, new Uint8Array(5));
  expect(decode(padded.subarray(13, 13 + bytes.length))).toEqual(decode(bytes));
});

test('an empty stream is a truncated image', async () => {
  await expect(readImage(Readable.from([]))).rejects.toBeInstanceOf(ImageFormatError);
  await expect(readImage(Readable.from([]))).rejects.toMatchObject({ rule: 'truncated', offset: 0 });
});

test('a read error of the stream itself propagates unchanged', async () => {
  const failing = new Readable({ read() { this.destroy(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })); } });
  await expect(readImage(failing)).rejects.toMatchObject({ code: 'EIO' });
});
