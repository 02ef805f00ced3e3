// setpriv, bwrap and systemd against the real tools: a process started by the tool is
// checkpointed, exported, and the exported command started again; the two processes' status
// and checkpoints (securebits included) are equal. systemd: the drop-in is read by systemd's own
// parser (systemd-analyze verify and security --offline), since no service manager runs here.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkpoint } from '../../lib/checkpoint';
import { ImageBuilder, type Image } from '../../lib/format';
import { toBwrap, toSetpriv, toSystemd } from '../../lib/interop';
import { CAP, CAP_NAMES, capBit, parseCapHex } from '../../lib/model';
import { has, killSleepers, procStatus, startBelow, startSleeper } from './helpers';

const root = process.getuid?.() === 0;
for (const tool of ['setpriv', 'bwrap', 'systemd-analyze'])
  if (process.env.CI && (!root || !has(tool))) throw new Error(`CI runs as root with ${tool} installed: these tests must not skip`);
const when = (tool: string) => (root && has(tool) ? test : test.skip);

afterAll(killSleepers);

const myBounding = parseCapHex(procStatus(process.pid).CapBnd.split(' ')[0]);

/** What a checkpoint says of a task: everything but pids and object identity. */
function identity(image: Image): unknown {
  const t = image.tasks[0];
  const c = t.cred;
  const ns = c.user.ns;
  return {
    ids: [c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid],
    groups: c.groups.gids,
    caps: c.caps,
    securebits: c.securebits,
    nnp: t.noNewPrivs,
    ns: ns.creator ? { creator: ns.creator.uid, uidMap: ns.uidMap, gidMap: ns.gidMap, setgroups: ns.setgroups } : null,
  };
}

/** Runs the exported text through the shell (so its quoting is tested too), then sleep. */
async function reproduce(text: string, original: number): Promise<void> {
  const again = await startBelow('sh', ['-c', `exec ${text.trim()} sleep 1000`]);
  expect(procStatus(again.pid)).toEqual(procStatus(original));
  expect(identity(await checkpoint([again.pid]))).toEqual(identity(await checkpoint([original])));
}

describe('setpriv: the exported command starts a program as the original runs', () => {
  when('setpriv')('uid 1000, groups, inheritable + ambient, bounding, no_new_privs', async () => {
    const { pid } = await startSleeper('setpriv', ['--reuid', '1000', '--regid', '1000', '--groups', '4,27', '--inh-caps', '-all,+kill,+net_bind_service', '--ambient-caps', '-all,+kill,+net_bind_service', '--bounding-set', '-all,+kill,+net_bind_service,+chown', '--no-new-privs', 'sleep', '1000']);
    const out = toSetpriv(await checkpoint([pid]));
    expect(out.unexpressed).toEqual([]);
    await reproduce(out.text, pid);
  });

  when('setpriv')('root with securebits noroot and keep_caps_locked, real and effective uid apart', async () => {
    const { pid } = await startSleeper('setpriv', ['--ruid', '0', '--euid', '1001', '--rgid', '0', '--egid', '1002', '--clear-groups', '--securebits', '+noroot,+keep_caps_locked', '--bounding-set', '-all,+chown', 'sleep', '1000']);
    const image = await checkpoint([pid]);
    expect(image.tasks[0].cred.securebits).toBe(0x21);
    const out = toSetpriv(image);
    expect(out.unexpressed).toEqual([]);
    expect(out.value).toContain('--securebits');
    await reproduce(out.text, pid);
  });
});

describe('bwrap: the exported command starts a program as the original runs', () => {
  when('bwrap')('uid 1000 in a user namespace with one capability', async () => {
    const { pid } = await startBelow('bwrap', ['--dev-bind', '/', '/', '--unshare-user', '--uid', '1000', '--gid', '1000', '--cap-drop', 'ALL', '--cap-add', 'CAP_KILL', 'sleep', '1000']);
    const out = toBwrap(await checkpoint([pid]), { callerBounding: myBounding });
    expect(out.unexpressed).toEqual([]);
    await reproduce(out.text, pid);
    const norm = (p: number, f: string) => fs.readFileSync(`/proc/${p}/${f}`, 'utf8');
    expect(norm(pid, 'uid_map').trim().split(/\s+/)).toEqual(['1000', '0', '1']);
  });

  when('bwrap')('root keeping its capabilities', async () => {
    const { pid } = await startBelow('bwrap', ['--dev-bind', '/', '/', 'sleep', '1000']);
    const out = toBwrap(await checkpoint([pid]), { callerBounding: myBounding });
    expect(out.unexpressed).toEqual([]);
    await reproduce(out.text, pid);
  });
});

describe('bwrap: what toBwrap calls exact is what bwrap gives', () => {
  const KILL = capBit(CAP.KILL);
  const cases: [string, (b: ImageBuilder) => void][] = [
    ['uid 0 in a namespace, one capability everywhere', (b) => {
      const ns = b.namespace(b.user(0), { uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }], setgroups: 'deny' });
      b.task(b.cred({ uid: 0, user: b.user(0, ns), caps: { inheritable: KILL, permitted: KILL, effective: KILL, bounding: KILL, ambient: KILL } }), { noNewPrivs: true });
    }],
    ['uid 1000 in a namespace, no capabilities, empty bounding set', (b) => {
      const ns = b.namespace(b.user(0), { uidMap: [{ inside: 1000, outside: 0, count: 1 }], gidMap: [{ inside: 1000, outside: 0, count: 1 }], setgroups: 'deny' });
      b.task(b.cred({ uid: 1000, gid: 1000, user: b.user(1000, ns) }), { noNewPrivs: true });
    }],
    ['uid 0 in a namespace keeping every capability', (b) => {
      const ns = b.namespace(b.user(0), { uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }], setgroups: 'deny' });
      b.task(b.cred({ uid: 0, user: b.user(0, ns), caps: { permitted: myBounding, effective: myBounding, bounding: myBounding } }), { noNewPrivs: true });
    }],
  ];
  for (const [name, build] of cases)
    when('bwrap')(name, async () => {
      const b = new ImageBuilder();
      build(b);
      const image = b.build();
      const out = toBwrap(image, { callerBounding: myBounding });
      expect(out.unexpressed).toEqual([]);
      const { pid } = await startBelow('sh', ['-c', `exec ${out.text.trim()} sleep 1000`]);
      expect(identity(await checkpoint([pid]))).toEqual(identity(image));
    });
});

describe('systemd: the drop-in as systemd reads it', () => {
  const images: [string, Image][] = (() => {
    const list: [string, Image][] = [];
    let b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, gid: 1000, groups: [4, 27], caps: { bounding: capBit(CAP.KILL) | capBit(CAP.NET_BIND_SERVICE), ambient: capBit(CAP.NET_BIND_SERVICE), inheritable: capBit(CAP.NET_BIND_SERVICE) }, securebits: 0x3 }), { noNewPrivs: true });
    list.push(['user with groups, ambient, securebits, no_new_privs', b.build()]);
    b = new ImageBuilder();
    const ns = b.namespace(b.user(0), { uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }] });
    b.task(b.cred({ uid: 0, user: b.user(0, ns), caps: { bounding: (1n << 41n) - 1n & ~capBit(CAP.SYS_ADMIN) } }));
    list.push(['root in PrivateUsers=, all but CAP_SYS_ADMIN', b.build()]);
    return list;
  })();

  function unitWith(dropIn: string): { dir: string; unit: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-systemd-'));
    fs.mkdirSync(path.join(dir, 'probe.service.d'));
    fs.writeFileSync(path.join(dir, 'probe.service'), '[Unit]\nDescription=cr-creds probe\n[Service]\nExecStart=/bin/true\n');
    fs.writeFileSync(path.join(dir, 'probe.service.d', 'creds.conf'), dropIn);
    return { dir, unit: path.join(dir, 'probe.service') };
  }

  function verifyComplaints(dropIn: string): string[] {
    const { dir, unit } = unitWith(dropIn);
    try {
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { cwd: dir, encoding: 'utf8' });
      return `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('creds.conf'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  when('systemd-analyze')('systemd-analyze verify accepts every setting (and is not blind)', () => {
    for (const [, image] of images) expect(verifyComplaints(toSystemd(image).text)).toEqual([]);
    expect(verifyComplaints('[Service]\nNoNewPrivileges=maybe\nCapabilityBoundingSett=CAP_KILL\n')).toHaveLength(2);
  });

  when('systemd-analyze')('systemd-analyze security --offline reads the identity the task has', () => {
    for (const [name, image] of images) {
      const c = image.tasks[0].cred;
      const { dir, unit } = unitWith(toSystemd(image).text);
      let report: { name: string; set: boolean }[];
      try {
        report = JSON.parse(execFileSync('systemd-analyze', ['security', '--offline=true', '--no-pager', '--json=short', unit], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      const seen = (n: string) => report.find((r) => r.name === n)?.set;
      expect([name, seen('User=/DynamicUser=')]).toEqual([name, c.uid !== 0]);
      expect([name, seen('NoNewPrivileges=')]).toEqual([name, image.tasks[0].noNewPrivs]);
      expect([name, seen('AmbientCapabilities=')]).toEqual([name, c.caps.ambient === 0n]);
      // Not rated for root (null).
      expect([name, seen('SupplementaryGroups=')]).toEqual([name, c.uid === 0 ? null : c.groups.gids.length === 0]);
      expect([name, seen('PrivateUsers=')]).toEqual([name, c.user.ns.creator !== null]);
      let checked = 0;
      for (const r of report) {
        const m = /^CapabilityBoundingSet=~(CAP_[A-Z_]+)$/.exec(r.name);
        if (!m || !CAP_NAMES.includes(m[1])) continue;
        checked++;
        expect([name, m[1], r.set]).toEqual([name, m[1], (c.caps.bounding & capBit(CAP_NAMES.indexOf(m[1]))) === 0n]);
      }
      expect(checked).toBeGreaterThan(10);
    }
  });
});
