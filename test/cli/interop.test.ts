// cr-creds export / import / encode: options, exit codes, messages.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decode, encode, ImageBuilder } from '../../lib/format';
import { cli } from './io';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'example.img');
let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-cli-interop-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function exact(): Uint8Array {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 1000, gid: 100, groups: [4], caps: { bounding: 0x20n } }), { noNewPrivs: true, pids: { vpid: 77 } });
  return encode(b.build());
}

describe('cr-creds export', () => {
  test('lists what the format cannot express on stderr; --strict refuses with exit 1 and prints nothing', async () => {
    const r = await cli(['export', '--to', 'k8s', EXAMPLE, '--task', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^securityContext:\n  runAsUser: 1000\n/);
    expect(r.stderr).toContain('cr-creds: not expressible in k8s: the effective (subjective) cred differs from the real one');
    const s = await cli(['export', '--to', 'k8s', EXAMPLE, '--task', '1', '--strict']);
    expect(s.code).toBe(1);
    expect(s.stdout).toBe('');
    expect(s.stderr).toMatch(/cr-creds: --strict: nothing written: 4 things of task 1 cannot be expressed in k8s\n$/);
  });

  test('--json: format, task, value, text and the list; an exact export passes --strict', async () => {
    const r = await cli(['export', '--to', 'oci', '--pid', '77', '--json', '--strict', '-'], exact());
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j.format).toBe('oci');
    expect(j.task).toBe(0);
    expect(j.unexpressed).toEqual([]);
    expect(j.value.process.user).toEqual({ uid: 1000, gid: 100, additionalGids: [4] });
    expect(JSON.parse(j.text)).toEqual(j.value);
  });

  test('--merge puts the parts into a config.json', async () => {
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ ociVersion: '1.0.2', process: { cwd: '/', args: ['sh'], user: { uid: 0, gid: 0 } }, linux: { namespaces: [{ type: 'pid' }, { type: 'user' }] } }));
    const r = await cli(['export', '--to', 'oci', '--merge', config, '-'], exact());
    expect(r.code).toBe(0);
    const merged = JSON.parse(r.stdout);
    expect(merged.process.args).toEqual(['sh']);
    expect(merged.process.user.uid).toBe(1000);
    expect(merged.process.noNewPrivileges).toBe(true);
    expect(merged.linux.namespaces).toEqual([{ type: 'pid' }]);
  });

  test('setpriv and systemd forms', async () => {
    const sp = await cli(['export', '--to', 'setpriv', '-'], exact());
    expect(sp.stdout).toBe('setpriv --reuid 1000 --regid 100 --groups 4 --inh-caps -all --ambient-caps -all --bounding-set -all,+kill --no-new-privs --\n');
    const sd = await cli(['export', '--to', 'systemd', '-'], exact());
    expect(sd.stdout).toContain('[Service]\nUser=1000\nGroup=100\nSupplementaryGroups=4\nCapabilityBoundingSet=CAP_KILL\nAmbientCapabilities=\nNoNewPrivileges=yes\n');
  });

  test.each([
    [['export', EXAMPLE], /--to FORMAT is required/],
    [['export', '--to', 'docker', EXAMPLE], /unknown format 'docker'/],
    [['export', '--to', 'k8s', '--merge', 'x', EXAMPLE], /--merge goes with --to oci only/],
    [['export', '--to', 'k8s', '--task', '1', '--pid', '2', EXAMPLE], /--task and --pid exclude each other/],
  ])('usage errors exit 2: %j', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('a task the image does not have: exit 1', async () => {
    const r = await cli(['export', '--to', 'oci', '--task', '9', EXAMPLE]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('cr-creds: task 9: the image has 3 task(s)\n');
  });
});

describe('cr-creds import', () => {
  test('systemd drop-in -> image, defaults listed on stderr', async () => {
    const unit = path.join(dir, 'x.conf');
    fs.writeFileSync(unit, '[Service]\nUser=1000\nGroup=1000\nCapabilityBoundingSet=CAP_KILL\nNoNewPrivileges=yes\n');
    const out = path.join(dir, 'x.img');
    const r = await cli(['import', '--from', 'systemd', unit, '-o', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('cr-creds: assumed: systemd also adds the groups the user database gives User=');
    const t = decode(new Uint8Array(fs.readFileSync(out))).tasks[0];
    expect([t.cred.uid, t.cred.gid, t.cred.caps.bounding, t.noNewPrivs]).toEqual([1000, 1000, 0x20n, true]);
  });

  test('an imported k8s container: restart --dry-run explains what the program runs with', async () => {
    const pod = path.join(dir, 'pod.json');
    fs.writeFileSync(pod, JSON.stringify({ kind: 'Pod', spec: { securityContext: { runAsUser: 1000, runAsGroup: 1000 }, containers: [{ name: 'app', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } }] } }));
    const img = path.join(dir, 'pod.img');
    expect((await cli(['import', '--from', 'k8s', pod, '-o', img, '--quiet'])).stderr).toBe('');
    const r = await cli(['restart', img, '--dry-run', '--', '/bin/true']);
    expect(r.code).toBe(0);
    // A program that is not root keeps no capability across execve: k8s has no ambient set.
    expect(r.stdout).toMatch(/runs with \(after execve of \/bin\/true\):\n {2}uid 1000 {2}gid 1000 {2}groups -\n {2}caps p=- e=- i=- a=-\n {2}bounding net_bind_service {2}securebits \S+ {2}no_new_privs\n/);
  });

  test('export --to k8s (YAML) | import --from k8s: the same ids, groups, capabilities, no_new_privs', async () => {
    const yaml = await cli(['export', '--to', 'k8s', '-'], exact());
    expect(yaml.code).toBe(0);
    const file = path.join(dir, 'k8s.yaml');
    fs.writeFileSync(file, yaml.stdout);
    const img = path.join(dir, 'k8s.img');
    const r = await cli(['import', '--from', 'k8s', file, '-o', img, '--quiet']);
    expect(r.stderr).toBe('');
    const t = decode(new Uint8Array(fs.readFileSync(img))).tasks[0];
    const o = decode(exact()).tasks[0];
    expect([t.cred.uid, t.cred.gid, t.cred.groups.gids, t.cred.caps.bounding, t.noNewPrivs]).toEqual([o.cred.uid, o.cred.gid, o.cred.groups.gids, o.cred.caps.bounding, o.noNewPrivs]);
  });

  test('bad input: exit 1 with the field named; usage: exit 2', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ process: { user: { uid: -3 } } }));
    const r = await cli(['import', '--from', 'oci', bad, '-o', path.join(dir, 'y.img')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('cr-creds: process.user.uid: expected an id (0..4294967295), got -3\n');
    expect(fs.existsSync(path.join(dir, 'y.img'))).toBe(false);
    expect((await cli(['import', '--from', 'oci', bad])).code).toBe(2);
    expect((await cli(['import', '--from', 'bwrap', bad, '-o', 'z'])).code).toBe(2);
  });
});

test('every new command has a --help naming its options', async () => {
  for (const [name, options] of [['export', ['--to', '--task', '--pid', '--merge', '--json', '--strict']], ['import', ['--from', '-o', '--container', '--quiet']], ['encode', ['-o']]] as const) {
    const r = await cli([name, '--help']);
    expect(r.code).toBe(0);
    for (const o of options) expect(r.stdout).toContain(o);
  }
});
