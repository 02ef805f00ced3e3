// Whether this boot's kernel lacks linux-cr, remembered between CLI runs. Finding out scans all
// of /proc/kallsyms (tens of ms: most of a checkpoint's run time); the kernel cannot gain the
// syscalls without a reboot, so the answer "absent" is kept for this boot (keyed by boot_id and
// uname) in a runtime directory of our own: /run/cr-creds for root, $XDG_RUNTIME_DIR/cr-creds
// otherwise. It only ever makes the CLI read processes live; it never lets a syscall through
// (the addon's gate scans again before any linux-cr syscall), so a stale or forged file can cost
// the kernel's own checkpoint, never safety. Any problem with the file: no cache.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

function cacheDir(): string | null {
  const uid = process.geteuid?.() ?? -1;
  if (uid === 0) return '/run/cr-creds';
  const rt = process.env.XDG_RUNTIME_DIR;
  return rt && path.isAbsolute(rt) ? path.join(rt, 'cr-creds') : null;
}

function thisBoot(): string | null {
  try {
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot} ${os.release()} ${os.version()}`;
  } catch {
    return null;
  }
}

/** Ours alone: owned by our euid, no one else may write it, not a symlink. */
function ours(st: fs.Stats, dir: boolean): boolean {
  return st.uid === process.geteuid?.() && (st.mode & 0o022) === 0 && (dir ? st.isDirectory() : st.isFile());
}

/** True when this boot's kernel is known to lack linux-cr's syscalls. */
export function linuxCrKnownAbsent(): boolean {
  const dir = cacheDir();
  const boot = thisBoot();
  if (!dir || !boot) return false;
  try {
    if (!ours(fs.lstatSync(dir), true)) return false;
    const file = path.join(dir, 'linux-cr');
    if (!ours(fs.lstatSync(file), false)) return false;
    return fs.readFileSync(file, 'utf8') === `absent ${boot}\n`;
  } catch {
    return false;
  }
}

/** Remembers, for this boot, that the kernel lacks linux-cr's syscalls (best effort). */
export function rememberLinuxCrAbsent(): void {
  const dir = cacheDir();
  const boot = thisBoot();
  if (!dir || !boot) return;
  const tmp = path.join(dir, `.linux-cr.${process.pid}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch {
    // exists (checked below) or cannot be made (no cache)
  }
  try {
    if (!ours(fs.lstatSync(dir), true)) return;
    fs.writeFileSync(tmp, `absent ${boot}\n`, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, path.join(dir, 'linux-cr'));
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}
