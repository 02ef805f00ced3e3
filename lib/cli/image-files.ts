// Images in and out of the CLI: read from a file or stdin through the bounded stream reader
// (the type checked before any blocking open), with failures named by source (and progress on
// big files); written exclusively and atomically so that no reader ever sees half an image and
// no planted link or file can steer the write.
// The stream reader and node's stream module load only when an image is streamed (start-up).
import * as fs from 'fs';
import type { Readable } from 'stream';
import { CliFailure, UsageError, type CliIo } from './command';
import type { Progress } from './progress';
import type { DecodeDetails } from '../format/assembler';
import { ImageFormatError } from '../format/errors';
import type { Image } from '../format/types';
import { FileReadError, openInput } from '../files/open-input';
import { FileWriteError, writeFileExclusive } from '../files/write-exclusive';
import { fsReason } from '../files/fs-reason';
import { setCliHeapFlags } from './heap-flags';

/** Files at least this big show reading progress (smaller ones read faster than it would draw). */
const PROGRESS_MIN_BYTES = 1 << 20;

const mib = (n: number) => (n / (1 << 20)).toFixed(1);

/**
 * Reads an image from a file or stdin; failures become CliFailure naming the source. `objrefs`
 * false: no objref table (what only inspect shows), one map less for a huge image.
 */
export async function readImageSource(
  file: string | undefined,
  io: Pick<CliIo, 'stdin'>,
  progress?: Progress,
  objrefs = true,
): Promise<{ image: Image; details: DecodeDetails }> {
  const name = file === undefined || file === '-' ? '<stdin>' : file;
  const opened = openSource(file, io);
  let counter: Readable | undefined;
  try {
    // A small regular file is read and decoded at once: no stream to make (most of the CLI's
    // start-up for such a file).
    const small = readSmall(opened);
    if (small) return (await import('../format/decode')).decodeDetailed(small);
    setCliHeapFlags();
    const { readImage, readImageDetailed } = await import('../format/stream');
    const source = opened.stream();
    if (progress?.enabled && !opened.isStdin) {
      const size = opened.size;
      if (size >= PROGRESS_MIN_BYTES) {
        const { Transform } = await import('stream');
        let seen = 0;
        const counting = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            seen += chunk.byteLength;
            progress.update(`reading ${name}: ${mib(seen)}/${mib(size)} MiB (${Math.floor((100 * seen) / size)}%)`);
            cb(null, chunk);
          },
        });
        source.on('error', (e) => counting.destroy(e));
        counter = source.pipe(counting);
      }
    }
    const stream = counter ?? source;
    if (!objrefs) return { image: await readImage(stream), details: { objrefs: new Map<object, number>() } };
    return await readImageDetailed(stream);
  } catch (e) {
    throw readFailure(name, e);
  } finally {
    progress?.end();
    opened.close();
    counter?.destroy();
  }
}

/** The problems of an image file or stdin ([] when valid). */
export async function validateImageSource(file: string | undefined, io: Pick<CliIo, 'stdin'>): Promise<ImageFormatError[]> {
  const name = file === undefined || file === '-' ? '<stdin>' : file;
  const opened = openSource(file, io);
  try {
    // A small regular file: validated from its bytes at once, as readImageSource decodes one.
    const small = readSmall(opened);
    if (small) return (await import('../format/decode')).validate(small);
    setCliHeapFlags();
    const { validateStream } = await import('../format/stream');
    return await validateStream(opened.stream());
  } catch (e) {
    throw readFailure(name, e);
  } finally {
    opened.close();
  }
}

/** An input opened: a regular file's descriptor and size, streamed only when asked. */
interface Source {
  isStdin: boolean;
  /** A regular file's size; 0 for any other input. */
  size: number;
  /** Set for a regular file (type-checked on this very descriptor). */
  fd?: number;
  /** The input as a stream (made on first call; it then owns the descriptor). */
  stream(): Readable;
  /** Closes what was opened (never stdin); again is a no-op. */
  close(): void;
}

/** stdin is touched only when it is the source: making process.stdin costs start-up time. */
function openSource(file: string | undefined, io: Pick<CliIo, 'stdin'>): Source {
  if (file === undefined || file === '-') return { isStdin: true, size: 0, stream: () => io.stdin, close() {} };
  let opened: ReturnType<typeof openInput>;
  try {
    opened = openInput(file);
  } catch (e) {
    if (e instanceof FileReadError) throw new CliFailure(e.message);
    throw e;
  }
  if (opened.stream !== undefined) {
    const stream = opened.stream;
    return { isStdin: false, size: 0, stream: () => stream, close: () => stream.destroy() };
  }
  const { fd, stat } = opened;
  let stream: Readable | undefined;
  let closed = false;
  return {
    isStdin: false,
    size: stat.size,
    fd,
    stream: () => (stream ??= fs.createReadStream('', { fd, autoClose: true })),
    close() {
      if (stream) stream.destroy();
      else if (!closed) fs.closeSync(fd);
      closed = true;
    },
  };
}

/** The most a text input (a spec, a config, inspect JSON) may hold: it is parsed whole. */
export const MAX_TEXT_INPUT = 64 << 20;

/**
 * A text input (FILE or '-'), opened as every input is (type checked, never blocking on the
 * open) and read to its end, refused past MAX_TEXT_INPUT bytes rather than read without bound.
 */
export async function readTextInput(file: string, io: Pick<CliIo, 'stdin'>): Promise<string> {
  const name = file === '-' ? '<stdin>' : file;
  const opened = openSource(file, io);
  const chunks: Buffer[] = [];
  let n = 0;
  setCliHeapFlags();
  try {
    for await (const c of opened.stream()) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
      n += b.length;
      if (n > MAX_TEXT_INPUT) throw new CliFailure(`${name}: more than ${MAX_TEXT_INPUT >> 20} MiB, the most a text input may hold`);
      chunks.push(b);
    }
  } catch (e) {
    throw readFailure(name, e);
  } finally {
    opened.close();
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The whole of a small regular file, read at once from its start; null for any other input, a
 * big file, or one that grew while read (those are streamed).
 */
function readSmall(source: Source): Uint8Array | null {
  const { fd, size } = source;
  if (fd === undefined || size >= PROGRESS_MIN_BYTES) return null;
  const buf = Buffer.alloc(size + 1);
  let n = 0;
  for (let got; n < buf.length && (got = fs.readSync(fd, buf, n, buf.length - n, n)) > 0; ) n += got;
  return n <= size ? buf.subarray(0, n) : null;
}


function readFailure(name: string, e: unknown): unknown {
  if (e instanceof ImageFormatError) return new CliFailure(`${name}: ${e.message}`);
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.syscall) return new CliFailure(`cannot read ${name}: ${fsReason(err)}`);
  return e;
}

/** Writes exclusively and atomically (lib/files/write-exclusive.ts). */
function writeAtomic(file: string, bytes: Uint8Array): void {
  try {
    writeFileExclusive(file, bytes);
  } catch (e) {
    if (e instanceof FileWriteError) throw new CliFailure(e.message);
    throw e;
  }
}

/** An image goes to `out` ('-': stdout); refused up front when stdout is a terminal. */
export function checkImageOutput(io: CliIo, out: string): void {
  if (out === '-' && io.isTTY && (io.stdout as { isTTY?: boolean }).isTTY)
    throw new UsageError('refusing to write a binary image to a terminal');
}

/** Writes the image to stdout ('-', flushed before returning) or atomically to the file. */
export async function writeImageOutput(io: CliIo, out: string, bytes: Uint8Array): Promise<void> {
  if (out === '-') await new Promise<void>((resolve, reject) => io.stdout.write(bytes, (err) => (err ? reject(err) : resolve())));
  else writeAtomic(out, bytes);
}
