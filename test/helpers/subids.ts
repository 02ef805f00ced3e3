// /etc/subuid and /etc/subgid are one machine-wide state that several test files change for a
// while (a grant for newuidmap / newgidmap) and put back: they take turns under this lock, so
// that no file restores its backup over another's grant. The lock is a directory (mkdir is
// atomic) holding the owner's pid; a lock whose owner is gone is taken over.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const LOCK = path.join(os.tmpdir(), 'cr-creds-subids.lock');

/** Whether the lock's holder still runs (a lock without a pid a few seconds on: its holder died). */
function ownerAlive(): boolean {
  let pid = 0;
  try {
    pid = Number(fs.readFileSync(path.join(LOCK, 'pid'), 'utf8'));
  } catch {
    // not written yet, or released meanwhile
  }
  if (!(pid > 0)) {
    try {
      return Date.now() - fs.statSync(LOCK).mtimeMs < 5000;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding the machine-wide subordinate-id lock (waits up to `ms` for it). */
export async function withSubidLock<T>(fn: () => Promise<T> | T, ms = 120000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!ownerAlive()) fs.rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > end) throw new Error(`timed out waiting for ${LOCK} (another test changing /etc/subuid)`);
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}
