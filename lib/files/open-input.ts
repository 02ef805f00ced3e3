// Opening an input without letting its type surprise us: the open itself never blocks
// (O_NONBLOCK: a FIFO without a writer, a device), the type is checked on the open fd (fstat),
// and the caller reads through a bounded reader, so /dev/zero or an endless pipe costs no more
// memory than the largest record the reader accepts. (libuv opens every fd close-on-exec.)
import * as fs from 'fs';
import type { Readable } from 'stream';
import { fsReason } from './fs-reason';

/** An input refused or unreadable; the message names the path and why (never its bytes). */
export class FileReadError extends Error {
  override name = 'FileReadError';
  constructor(
    message: string,
    readonly code: 'ERR_FILE_TYPE' | 'ERR_FILE_READ' | 'ERR_FILE_MISSING',
    readonly path: string,
  ) {
    super(message);
  }
}

const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW } = fs.constants;

function describe(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function openFailed(file: string, e: unknown): FileReadError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return new FileReadError(`cannot read ${file}: ${fsReason(err)}`, 'ERR_FILE_MISSING', file);
  if (err.code === 'ELOOP') return new FileReadError(`${file}: is a symbolic link (not followed)`, 'ERR_FILE_TYPE', file);
  return new FileReadError(`cannot read ${file}: ${fsReason(err)}`, 'ERR_FILE_READ', file);
}

/**
 * A regular file inside a directory we were pointed at (a CRIU dump): never a link (lstat, then
 * O_NOFOLLOW), never a FIFO or device (refused before any blocking open), and the fd is the very
 * file lstat saw. Returns the open fd and its stat; the caller closes the fd.
 */
export function openRegularNoFollow(file: string): { fd: number; stat: fs.Stats } {
  let before: fs.Stats;
  try {
    before = fs.lstatSync(file);
  } catch (e) {
    throw openFailed(file, e);
  }
  if (!before.isFile()) throw new FileReadError(`${file}: is ${describe(before)}, not a regular file`, 'ERR_FILE_TYPE', file);
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
  } catch (e) {
    throw openFailed(file, e);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile() || stat.ino !== before.ino || stat.dev !== before.dev) {
    fs.closeSync(fd);
    throw new FileReadError(`${file}: was replaced while being opened`, 'ERR_FILE_TYPE', file);
  }
  return { fd, stat };
}

/**
 * An input FILE the user named (a link the user named is followed), opened without blocking:
 * a regular file as its descriptor (the caller reads it, or streams it with fs.createReadStream,
 * and closes it: a small file read at once needs no stream), a FIFO or pipe (read as it comes;
 * a FIFO waits for its writer, as `cat` would) or a character device as a stream.
 * Directories, sockets and block devices are refused.
 */
export function openInput(file: string): { fd: number; stat: fs.Stats; stream?: undefined } | { stream: Readable; stat: fs.Stats; fd?: undefined } {
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NONBLOCK);
  } catch (e) {
    throw openFailed(file, e);
  }
  const stat = fs.fstatSync(fd);
  if (stat.isFile()) return { fd, stat };
  // A pipe's reads go through the event loop (a non-blocking fd must not reach fs.read).
  // net is loaded only for a pipe (most inputs are files): its socket modules cost start-up time.
  if (stat.isFIFO()) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const net = require('net') as typeof import('net');
    return { stream: new net.Socket({ fd, readable: true, writable: false }), stat };
  }
  if (stat.isCharacterDevice()) {
    // Blocking reads in the thread pool, on a descriptor of its own without O_NONBLOCK.
    try {
      const blocking = fs.openSync(`/proc/self/fd/${fd}`, O_RDONLY);
      return { stream: fs.createReadStream('', { fd: blocking, autoClose: true }), stat };
    } catch (e) {
      throw openFailed(file, e);
    } finally {
      fs.closeSync(fd);
    }
  }
  fs.closeSync(fd);
  throw new FileReadError(`${file}: is ${describe(stat)}, not an image file`, 'ERR_FILE_TYPE', file);
}
