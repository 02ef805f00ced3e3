// Runs the CLI in-process with captured streams.
import { PassThrough, Readable, Writable } from 'stream';
import { main } from '../../lib/cli/main';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export async function cli(argv: string[], stdin?: Uint8Array): Promise<Run> {
  const out = sink();
  const err = sink();
  const input = stdin ? Readable.from([Buffer.from(stdin)]) : new PassThrough().end();
  const code = await main(argv, { stdin: input, stdout: out.stream, stderr: err.stream, isTTY: false });
  return { code, stdout: out.text(), stderr: err.text() };
}
