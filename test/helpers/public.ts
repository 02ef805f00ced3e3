// Files that processes running under other uids (a restarted program as uid 1000, an
// unprivileged caller as 65534) must read. The checkout may sit under a directory only root can
// enter (a CI clone in a 0700 temp dir), so such files are copied to a world-readable directory.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const REPO = path.resolve(__dirname, '..', '..');

let dir: string | undefined;

/** A world-readable temp directory for this test process, removed when it exits. */
export function publicDir(): string {
  if (!dir) {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-public-'));
    fs.chmodSync(d, 0o755);
    process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
    dir = d;
  }
  return dir;
}

/** Copies a file or directory of the repo into publicDir(), readable by everyone. */
export function publicCopy(rel: string, dest = rel): string {
  const to = path.join(publicDir(), dest);
  fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o755 });
  fs.cpSync(path.join(REPO, rel), to, { recursive: true });
  return to;
}

/** The compiled addon, where any uid can load it. */
export function publicAddon(): string {
  const to = path.join(publicDir(), 'build', 'Release', 'cr_creds.node');
  if (!fs.existsSync(to)) publicCopy('build/Release/cr_creds.node');
  return to;
}

/**
 * node_modules for a package copy that other uids load: what the library needs at run time
 * (node-gyp-build) copied, everything else linked (only root-run code reaches those).
 */
export function publicNodeModules(into: string): void {
  const nm = path.join(into, 'node_modules');
  fs.mkdirSync(nm, { recursive: true, mode: 0o755 });
  for (const entry of fs.readdirSync(path.join(REPO, 'node_modules'))) {
    const src = path.join(REPO, 'node_modules', entry);
    if (entry === 'node-gyp-build') fs.cpSync(src, path.join(nm, entry), { recursive: true });
    else fs.symlinkSync(src, path.join(nm, entry));
  }
}
