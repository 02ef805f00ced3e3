// An OCI bundle for runc: a busybox rootfs (the static busybox of Debian's busybox-static, with a
// link per applet) and runc's own default config.json (`runc spec`), its process made
// non-interactive. Callers adjust config.json (process args, user, namespaces) for their case.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox'];
const RUNC_PATHS = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'];

function find(paths: readonly string[], pkg: string): string {
  const p = paths.find((x) => fs.existsSync(x));
  if (!p) throw new Error(`${path.basename(paths[0])} is not installed (Debian package ${pkg}; .ci/run installs it)`);
  return p;
}

/** runc's path; throws naming the package when it is not installed. */
export function runcPath(): string {
  return find(RUNC_PATHS, 'runc');
}

/** Builds `dir`/bundle (config.json and rootfs/ with busybox); `dir` must exist. */
export async function makeBusyboxBundle(dir: string): Promise<{ bundle: string; rootfs: string }> {
  const busybox = find(BUSYBOX_PATHS, 'busybox-static');
  const bundle = path.join(dir, 'bundle');
  const rootfs = path.join(bundle, 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d), { recursive: true, mode: 0o755 });
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  // Reachable by a container's mapped root (mkdtemp makes `dir` 0700).
  for (const d of [dir, bundle, rootfs]) fs.chmodSync(d, 0o755);
  fs.copyFileSync(busybox, path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  // One link per applet the busybox binary names (`busybox --list`).
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  execFileSync(runcPath(), ['spec', '--bundle', bundle]);
  const configFile = path.join(bundle, 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  config.process.terminal = false;
  config.root = { path: 'rootfs', readonly: true };
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { bundle, rootfs };
}
