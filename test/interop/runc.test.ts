// OCI export and import against the real runc (root): a live process checkpointed, exported,
// merged into a `runc spec` bundle over busybox and run; the container process's
// /proc/self/status equals the original's field by field. And the other way: a runc container
// checkpointed, its export equal to its config, its import restarted equal to it.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkpoint } from '../../lib/checkpoint';
import { mergeOci, toOci, fromOci, type OciIdentity } from '../../lib/interop';
import { restart } from '../../lib/restart';
import { ImageBuilder } from '../../lib/format';
import { CAP, capBit } from '../../lib/model';
import { makeBusyboxBundle } from '../helpers/runc-bundle';
import { has, killSleepers, ociValidator, OCI_SCHEMA_DIR, procStatus, run, startSleeper, statusFields } from './helpers';

const ready = process.getuid?.() === 0 && has('runc') && (fs.existsSync('/bin/busybox') || fs.existsSync('/usr/bin/busybox'));
if (process.env.CI && !ready) throw new Error('CI runs as root with runc and busybox-static installed: the runc tests must not skip');
const runcTest = ready ? test : test.skip;

let dir: string;
let stateDir: string;
let bundle: string;
let baseConfig: Record<string, any>;
const validate = fs.existsSync(OCI_SCHEMA_DIR) ? ociValidator(true) : undefined;
let seq = 0;

beforeAll(async () => {
  if (!ready) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-runc-'));
  stateDir = path.join(dir, 'state');
  ({ bundle } = await makeBusyboxBundle(dir));
  baseConfig = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  // A namespace that maps few ids cannot mount devpts with gid=5 or a fresh sysfs: the mounts
  // `runc spec --rootless` writes are the ones for it.
  const rootless = path.join(dir, 'rootless');
  fs.mkdirSync(rootless);
  await run('runc', ['spec', '--rootless', '--bundle', rootless]);
  userNsMounts = JSON.parse(fs.readFileSync(path.join(rootless, 'config.json'), 'utf8')).mounts;
});

let userNsMounts: unknown;

afterAll(async () => {
  killSleepers();
  if (!ready) return;
  fs.rmSync(dir, { recursive: true, force: true });
});

const containerId = () => `cr-creds-${process.pid}-${++seq}`;

/** runc run of the bundle with this config; the program's stdout. */
async function runcRun(config: object): Promise<string> {
  if (validate) expect(validate(config)).toEqual([]);
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  const { stdout } = await run('runc', ['--root', stateDir, 'run', '--bundle', bundle, containerId()], { timeout: 20000 });
  return stdout;
}

/** The container's own status and maps, printed by busybox cat (no exec after runc's). */
function withArgs(config: Record<string, any>, args: string[]): Record<string, any> {
  return { ...config, process: { ...config.process, args } };
}

async function exportedRun(pid: number): Promise<{ out: string; identity: OciIdentity; unexpressed: string[] }> {
  const image = await checkpoint([pid]);
  const exported = toOci(image);
  const config = withArgs(mergeOci(baseConfig, exported.value), ['cat', '/proc/self/status', '/proc/self/uid_map', '/proc/self/gid_map']);
  if (exported.value.linux) config.mounts = userNsMounts;
  return { out: await runcRun(config), identity: exported.value, unexpressed: exported.unexpressed.map((n) => n.what) };
}

const SETPRIV_USER = ['--reuid', '1000', '--regid', '1000', '--groups', '4,27', '--inh-caps', '-all,+kill,+net_bind_service', '--ambient-caps', '-all,+kill,+net_bind_service', '--bounding-set', '-all,+kill,+net_bind_service,+chown', '--no-new-privs'];

describe('runc runs the OCI export of a checkpointed process as it was', () => {
  runcTest('uid 1000, groups, inheritable + ambient capabilities, reduced bounding set, no_new_privs', async () => {
    const { pid } = await startSleeper('setpriv', [...SETPRIV_USER, 'sleep', '1000']);
    const { out, identity, unexpressed } = await exportedRun(pid);
    expect(unexpressed).toEqual([]);
    expect(identity.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [4, 27] });
    expect(statusFields(out)).toEqual(procStatus(pid));
  });

  runcTest('root with a bounding set of three capabilities', async () => {
    const { pid } = await startSleeper('setpriv', ['--bounding-set', '-all,+chown,+kill,+setuid', '--inh-caps', '-all', 'sleep', '1000']);
    const { out, unexpressed } = await exportedRun(pid);
    expect(unexpressed).toEqual([]);
    const original = procStatus(pid);
    expect(original.CapPrm).toBe('00000000000000a1');
    expect(statusFields(out)).toEqual(original);
  });

  runcTest('a process in a user namespace: the namespace, its maps and the status come back', async () => {
    // --map-root-user writes deny to setgroups; runc (as root) leaves allow: listed, not hidden.
    const { pid } = await startSleeper('unshare', ['--user', '--map-root-user', 'sleep', '1000']);
    const { out, identity, unexpressed } = await exportedRun(pid);
    expect(unexpressed).toEqual(['userns-setgroups']);
    expect(identity.linux).toEqual({ namespaces: [{ type: 'user' }], uidMappings: [{ containerID: 0, hostID: 0, size: 1 }], gidMappings: [{ containerID: 0, hostID: 0, size: 1 }] });
    expect(statusFields(out)).toEqual(procStatus(pid));
    const maps = out.split('\n').filter((l) => /^\s*\d+\s+\d+\s+\d+\s*$/.test(l)).map((l) => l.trim().split(/\s+/).join(' '));
    const norm = (f: string) => fs.readFileSync(`/proc/${pid}/${f}`, 'utf8').trim().split(/\s+/).join(' ');
    expect(maps).toEqual([norm('uid_map'), norm('gid_map')]);
  });
});

/** runc run --detach of this config; the container process's pid, and a way to delete it. */
async function runcDetached(config: object): Promise<{ pid: number; remove: () => Promise<unknown> }> {
  if (validate) expect(validate(config)).toEqual([]);
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  const id = containerId();
  // Detached: runc returns once the container runs; stdio not inherited, so nothing waits on it.
  const started = spawn('runc', ['--root', stateDir, 'run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' });
  const status = await new Promise<number | null>((resolve) => started.on('exit', resolve));
  const remove = () => run('runc', ['--root', stateDir, 'delete', '--force', id]).catch(() => undefined);
  if (status !== 0) {
    await remove();
    throw new Error(`runc run --detach exited ${status}`);
  }
  const state = JSON.parse((await run('runc', ['--root', stateDir, 'state', id])).stdout);
  return { pid: state.pid, remove };
}

const hostView = (pid: number) => ({
  status: procStatus(pid),
  uidMap: fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/),
  gidMap: fs.readFileSync(`/proc/${pid}/gid_map`, 'utf8').trim().split(/\s+/),
});

describe('runc and a namespace mapping 65536 ids (as a rootless runtime has)', () => {
  runcTest('a process restarted into uid 0 of a namespace 0 -> 100000 with groups: runc runs its export the same', async () => {
    const b = new ImageBuilder();
    const ns = b.namespace(b.user(0), { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }], setgroups: 'allow' });
    const caps = capBit(CAP.KILL) | capBit(CAP.CHOWN) | capBit(CAP.SETUID);
    b.task(b.cred({ uid: 0, gid: 0, groups: [5, 27], user: b.user(0, ns), caps: { permitted: caps, effective: caps, bounding: caps } }));
    const h = restart(b.build(), '/bin/sleep', ['1000'], { cwd: '/', stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 200 && fs.readFileSync(`/proc/${h.pid}/comm`, 'utf8').trim() !== 'sleep'; i++) await new Promise((r) => setTimeout(r, 10));
      const image = await checkpoint([h.pid!]);
      const exported = toOci(image);
      expect(exported.unexpressed).toEqual([]);
      expect(exported.value.linux?.uidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
      const config = withArgs(mergeOci(baseConfig, exported.value), ['sleep', '1000']);
      config.mounts = userNsMounts;
      const c = await runcDetached(config);
      try {
        expect(hostView(c.pid)).toEqual(hostView(h.pid!));
        expect(hostView(c.pid).status.Groups).toBe('100005 100027');
      } finally {
        await c.remove();
      }
    } finally {
      h.kill('SIGKILL');
      await h;
    }
  });
});

describe('a runc container checkpointed: export equals its config, import restarts as it runs', () => {
  runcTest('user 1000 with groups, capabilities, no_new_privs', async () => {
    const sets = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const config = withArgs(baseConfig, ['sleep', '1000']);
    config.process = {
      ...config.process,
      user: { uid: 1000, gid: 1000, additionalGids: [4, 27] },
      capabilities: { bounding: ['CAP_CHOWN', ...sets], effective: sets, inheritable: sets, permitted: sets, ambient: sets },
      noNewPrivileges: true,
    };
    const { pid, remove } = await runcDetached(config);
    try {
      const image = await checkpoint([pid]);
      const exported = toOci(image);
      expect(exported.unexpressed).toEqual([]);
      const sorted = (o: Record<string, string[]>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [...v].sort()]));
      expect(exported.value.process.user).toEqual(config.process.user);
      expect(sorted(exported.value.process.capabilities as Record<string, string[]>)).toEqual(sorted(config.process.capabilities));
      expect(exported.value.process.noNewPrivileges).toBe(true);

      // The imported config, restarted: the program runs with what the container's process has.
      const imported = fromOci(config).image;
      const h = restart(imported, '/bin/cat', ['/proc/self/status'], { cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      h.stdout?.setEncoding('utf8');
      h.stdout?.on('data', (d: string) => (out += d));
      const { exitCode: code } = await h;
      expect(code).toBe(0);
      expect(statusFields(out)).toEqual(procStatus(pid));
    } finally {
      await remove();
    }
  });
});

describe('a runc container in a user namespace checkpointed: export and import carry its maps', () => {
  runcTest('uid 0 of a namespace 0 -> 100000 (65536 ids), groups, three capabilities', async () => {
    const sets = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID'];
    const config = withArgs(baseConfig, ['sleep', '1000']);
    config.mounts = userNsMounts;
    config.process = {
      ...config.process,
      user: { uid: 0, gid: 0, additionalGids: [5, 27] },
      capabilities: { bounding: sets, effective: sets, permitted: sets },
      noNewPrivileges: false,
    };
    const maps = [{ containerID: 0, hostID: 100000, size: 65536 }];
    config.linux = { ...config.linux, namespaces: [...config.linux.namespaces, { type: 'user' }], uidMappings: maps, gidMappings: maps };
    const { pid, remove } = await runcDetached(config);
    try {
      const exported = toOci(await checkpoint([pid]));
      expect(exported.unexpressed).toEqual([]);
      expect(exported.value.linux).toEqual({ namespaces: [{ type: 'user' }], uidMappings: maps, gidMappings: maps });
      expect(exported.value.process.user).toEqual(config.process.user);
      const h = restart(fromOci(config).image, '/bin/sleep', ['1000'], { cwd: '/', stdio: 'ignore' });
      try {
        for (let i = 0; i < 200 && fs.readFileSync(`/proc/${h.pid}/comm`, 'utf8').trim() !== 'sleep'; i++) await new Promise((r) => setTimeout(r, 10));
        expect(hostView(h.pid!)).toEqual(hostView(pid));
      } finally {
        h.kill('SIGKILL');
        await h;
      }
    } finally {
      await remove();
    }
  });
});
