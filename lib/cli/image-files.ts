// Images in and out of the CLI: read from a file or stdin with failures named by source (and
// progress on big files), written atomically so that no reader ever sees half an image.
import * as fs from 'fs';
import * as path from 'path';
import type { Readable } from 'stream';
import { CliFailure, UsageError, type CliIo } from './command';
import type { Progress } from './progress';
import { ImageFormatError } from '../format/errors';

/** Files at least this big show reading progress (smaller ones read faster than it would draw). */
const PROGRESS_MIN_BYTES = 1 << 20;

const mib = (n: number) => (n / (1 << 20)).toFixed(1);

/** Reads an image from a file or stdin; failures become CliFailure naming the source. */
export async function readImageSource(file: string | undefined, stdin: Readable, progress?: Progress) {
  const name = file === undefined || file === '-' ? '<stdin>' : file;
  // A small regular file is read and decoded at once: no stream to set up (most of the CLI's
  // start-up for such a file); anything else, or bigger, goes through the stream reader.
  if (name !== '<stdin>') {
    let small: Uint8Array | null = null;
    try {
      const fd = fs.openSync(file as string, 'r');
      try {
        const st = fs.fstatSync(fd);
        if (st.isFile() && st.size < PROGRESS_MIN_BYTES) {
          const buf = Buffer.alloc(st.size + 1); // one byte more: a file that grew is read as a stream
          const n = fs.readSync(fd, buf, 0, buf.length, 0);
          if (n <= st.size) small = buf.subarray(0, n);
        }
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // the stream read below reports it
    }
    if (small) {
      const { decodeDetailed } = await import('../format/decode');
      try {
        return decodeDetailed(small);
      } catch (e) {
        if (e instanceof ImageFormatError) throw new CliFailure(`${name}: ${e.message}`);
        throw e;
      }
    }
  }
  let stream: Readable = name === '<stdin>' ? stdin : fs.createReadStream(file as string);
  const source = stream;
  try {
    if (progress?.enabled && stream !== stdin) {
      let size = 0;
      try {
        size = fs.statSync(file as string).size;
      } catch {
        // the read itself reports it
      }
      if (size >= PROGRESS_MIN_BYTES) {
        let seen = 0;
        const { Transform } = await import('stream'); // only for progress on a big file
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            seen += chunk.byteLength;
            progress.update(`reading ${name}: ${mib(seen)}/${mib(size)} MiB (${Math.floor((100 * seen) / size)}%)`);
            cb(null, chunk);
          },
        });
        source.on('error', (e) => counter.destroy(e));
        stream = source.pipe(counter);
      }
    }
    // The stream reader only when an image is read (checkpoint writes one and never needs it).
    const { readImageDetailed } = await import('../format/stream');
    return await readImageDetailed(stream);
  } catch (e) {
    if (e instanceof ImageFormatError) throw new CliFailure(`${name}: ${e.message}`);
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && err.syscall) throw new CliFailure(`cannot read ${name}: ${fsReason(err)}`);
    throw e;
  } finally {
    progress?.end();
    if (source !== stdin) source.destroy();
    if (stream !== source) stream.destroy();
  }
}

/** An fs error's reason without the paths it names (a temp file's name means nothing to the user). */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return (err?.message ?? String(e)).replace(/, \w+ '[^']*'( -> '[^']*')?$/, '');
}

/** The whole of an image file, or stdin for '-'; failures become CliFailure naming the source. */
export async function readImageBytes(file: string, stdin: Readable): Promise<Uint8Array> {
  const name = file === '-' ? '<stdin>' : file;
  try {
    if (file !== '-') return await fs.promises.readFile(file);
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
    return Buffer.concat(chunks);
  } catch (e) {
    throw new CliFailure(`cannot read ${name}: ${fsReason(e)}`);
  }
}

/** Writes atomically: a temp file beside the target, then rename. */
function writeAtomic(file: string, bytes: Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, bytes, { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new CliFailure(`cannot write ${file}: ${fsReason(e)}`);
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
