// The restarted program's stdio, as child_process lays it out: what the addon is asked for (an fd
// of the caller's, 'pipe', 'ignore', 'inherit'), and our ends of its pipes once it runs, as
// sockets (stdin write-only, stdout and stderr read-only, fds 3 and up duplex). A stream without
// an fd of its own is joined through a pipe of ours.
import * as net from 'net';
import type { Readable, Stream, Writable } from 'stream';
import type { NativeStdio } from '../native/binding';
import type { StdioEntry } from './options';

export type StdioStream = Readable | Writable | net.Socket;

/** A stream the child can take as is: one with an fd of its own (a file, a tty, a socket). */
function streamFd(s: Stream): number | null {
  const x = s as unknown as { fd?: unknown; _handle?: { fd?: unknown } };
  if (typeof x.fd === 'number' && x.fd >= 0) return x.fd;
  if (typeof x._handle?.fd === 'number' && x._handle.fd >= 0) return x._handle.fd;
  return null;
}

/** What to ask the addon for, per child fd; `joined[i]`: the caller's stream fd i is piped to or from. */
export function stdioPlan(entries: readonly StdioEntry[]): { native: NativeStdio[]; joined: (Stream | null)[] } {
  const joined: (Stream | null)[] = entries.map(() => null);
  const native: NativeStdio[] = entries.map((e, i) => {
    if (e === null || e === undefined) return i < 3 ? 'pipe' : 'ignore';
    if (typeof e === 'string' || typeof e === 'number') return e;
    const fd = streamFd(e);
    if (fd !== null) return fd;
    joined[i] = e;
    return 'pipe';
  });
  return { native, joined };
}

export interface WiredStreams {
  /** One entry per child fd: our end of each pipe not joined to a caller's stream, else null. */
  stdio: (StdioStream | null)[];
  /** Every socket of ours, joined or not. */
  sockets: net.Socket[];
  /** Our end of the program's stdin, when a pipe. */
  stdin: net.Socket | null;
  /** Settles once every socket has closed. */
  closed: Promise<void[]>;
}

/** Our ends of the pipes the addon opened (`fds`, null where none), joined as `joined` asks. */
export function wireStreams(fds: readonly (number | null)[], joined: readonly (Stream | null)[], width: number): WiredStreams {
  const stdio: (StdioStream | null)[] = new Array<StdioStream | null>(width).fill(null);
  const sockets: net.Socket[] = [];
  let stdin: net.Socket | null = null;
  fds.forEach((fd, i) => {
    if (fd === null) return;
    const s =
      i === 0 ? new net.Socket({ fd, readable: false, writable: true })
      : i < 3 ? new net.Socket({ fd, readable: true, writable: false })
      : new net.Socket({ fd, readable: true, writable: true });
    // The program may exit without reading its input: not an error of ours to throw.
    if (i === 0) {
      s.on('error', () => undefined);
      stdin = s;
    }
    sockets.push(s);
    const j = joined[i];
    if (j) {
      if (i === 0) (j as Readable).pipe(s);
      else s.pipe(j as Writable);
    } else stdio[i] = s;
  });
  const closed = Promise.all(sockets.map((s) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())))));
  return { stdio, sockets, stdin, closed };
}
