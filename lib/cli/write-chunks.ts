// Output made in pieces (a report of a million tasks) written as it is made: batched, and
// waiting whenever the stream asks (its 'drain'), so memory holds one batch, not the output.
import type { Writable } from 'stream';

const BATCH_CHARS = 1 << 16;

function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', done);
      out.off('error', done);
      out.off('close', closed);
      if (err) reject(err);
      else resolve();
    };
    const closed = () => done(new Error('the output was closed'));
    out.once('drain', done);
    out.once('error', done);
    out.once('close', closed);
  });
}

/** Writes every piece, each followed by `end` (e.g. '\n' for lines). */
export async function writeChunks(out: Writable, pieces: Iterable<string>, end = ''): Promise<void> {
  let batch = '';
  for (const p of pieces) {
    batch += p + end;
    if (batch.length >= BATCH_CHARS) {
      const more = out.write(batch);
      batch = '';
      if (!more) await drained(out);
    }
  }
  if (batch) await new Promise<void>((resolve, reject) => out.write(batch, (err) => (err ? reject(err) : resolve())));
}
