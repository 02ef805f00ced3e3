// A runc bundle over a busybox rootfs: `runc spec`'s config.json next to a rootfs holding the
// static busybox and its applet links, not terminal-bound, rootfs read-only.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';

const run = promisify(execFile);

const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox'];
const APPLETS = ['sh', 'cat', 'sleep', 'grep', 'id', 'true'];

export async function makeBusyboxBundle(dir: string): Promise<{ bundle: string; rootfs: string }> {
  const busybox = BUSYBOX_PATHS.find((p) => fs.existsSync(p));
  if (!busybox) throw new Error('busybox (busybox-static) is not installed');
  const bundle = path.join(dir, 'bundle');
  const rootfs = path.join(bundle, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d), { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(bundle, 0o755);
  fs.chmodSync(rootfs, 0o755);
  fs.copyFileSync(busybox, path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  await run('runc', ['spec', '--bundle', bundle]);
  const configPath = path.join(bundle, 'config.json');
  const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  config.process.terminal = false;
  config.root = { path: 'rootfs', readonly: true };
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  return { bundle, rootfs };
}
