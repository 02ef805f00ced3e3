// Writing a file so that nobody else can steer the write: the bytes go to a temp file created
// exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, an unguessable name, mode 0600) in the target's own
// directory, are fsync'ed, then renamed over the final name. A planted symlink or file at the
// temp name makes the create fail instead of writing through it; the final name is replaced,
// never written through, unless it is a link the kernel's own protected_symlinks rule would let
// us follow (we do not rely on the sysctl being on).
import * as fs from 'fs';
import * as path from 'path';
import { fsReason } from './fs-reason';

/** A write refused or failed; the message names the path and why. */
export class FileWriteError extends Error {
  override name = 'FileWriteError';
  constructor(
    message: string,
    readonly code: 'ERR_FILE_FOREIGN' | 'ERR_FILE_WRITE',
    readonly path: string,
  ) {
    super(message);
  }
}

const WORLD_WRITABLE = 0o002;
const STICKY = 0o1000;
const myUid = (): number => (typeof process.geteuid === 'function' ? process.geteuid() : 0);

/**
 * Where the bytes for `file` really go. An existing symlink is followed only as the kernel's
 * protected_symlinks allows (the link's owner is us or the directory's owner, or the directory
 * is not world-writable; stricter than the kernel, which only guards sticky ones); an existing file owned by someone else in a world-writable
 * directory is refused (as protected_regular would). Links are resolved one level at a time,
 * each step checked the same way.
 */
export function resolveTarget(file: string): string {
  let target = path.resolve(file);
  for (let hops = 0; ; hops++) {
    const dir = path.dirname(target);
    let dst: fs.Stats | undefined;
    try {
      dst = fs.lstatSync(dir);
    } catch {
      return target; // the write itself reports a missing directory
    }
    let st: fs.Stats;
    try {
      st = fs.lstatSync(target);
    } catch {
      return target;
    }
    const shared = (dst.mode & WORLD_WRITABLE) !== 0;
    const foreign = st.uid !== myUid() && st.uid !== dst.uid;
    if (st.isSymbolicLink()) {
      if (shared && foreign)
        throw new FileWriteError(
          `refusing to write ${file}: ${target} is a symbolic link owned by uid ${st.uid} in the world-writable${dst.mode & STICKY ? ' sticky' : ''} directory ${dir}`,
          'ERR_FILE_FOREIGN',
          target,
        );
      if (hops >= 40) throw new FileWriteError(`cannot write ${file}: too many levels of symbolic links`, 'ERR_FILE_WRITE', target);
      target = path.resolve(dir, fs.readlinkSync(target));
      continue;
    }
    if (shared && st.uid !== myUid())
      throw new FileWriteError(
        `refusing to replace ${target}: it is owned by uid ${st.uid} in the world-writable directory ${dir}`,
        'ERR_FILE_FOREIGN',
        target,
      );
    if (st.isDirectory()) throw new FileWriteError(`cannot write ${file}: it is a directory`, 'ERR_FILE_WRITE', target);
    return target;
  }
}

/** `n` bytes from the kernel's random source, in hex: node:crypto costs a CLI's start-up more. */
function randomHex(n: number): string {
  const buf = Buffer.alloc(n);
  const fd = fs.openSync('/dev/urandom', 'r');
  try {
    if (fs.readSync(fd, buf, 0, n, null) !== n) throw new Error('/dev/urandom: short read');
  } finally {
    fs.closeSync(fd);
  }
  return buf.toString('hex');
}

/** An unguessable name beside `target`, hidden. */
function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomHex(12)}.tmp`);
}

/**
 * Writes `bytes` to `file` all or nothing: exclusive 0600 temp file in the target's directory,
 * fsync, rename, fsync of the directory. On any failure the temp file is removed and the final
 * name is left as it was.
 */
export function writeFileExclusive(file: string, bytes: Uint8Array): void {
  const target = resolveTarget(file);
  const tmp = tempName(target);
  let fd = -1;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    // The umask could only narrow 0600; fchmod states it whatever the umask.
    fs.fchmodSync(fd, 0o600);
    let off = 0;
    while (off < bytes.byteLength) off += fs.writeSync(fd, bytes, off, bytes.byteLength - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw new FileWriteError(`cannot write ${file}: ${fsReason(e)}`, 'ERR_FILE_WRITE', target);
  }
  syncDir(path.dirname(target));
}

/** Makes a rename durable; a directory that cannot be opened for it (rare) is not an error. */
export function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.fsyncSync(fd);
  } catch {
    // the data is written and renamed; only its durability across a crash is weaker
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
