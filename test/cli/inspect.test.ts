// `cr-creds inspect`: the readable report and the --json schema, from a file and from stdin.
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ImageBuilder, encode } from '../../lib/format';
import { INSPECT_SCHEMA_VERSION, type InspectJson } from '../../lib/inspect';
import { cli } from './io';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'example.img');
const dir = mkdtempSync(join(tmpdir(), 'cr-creds-inspect-'));

function chainImage(): Uint8Array {
  const b = new ImageBuilder({ header: { time: 0n, byteOrder: 'big' } });
  const ns1 = b.namespace(b.user(1000), { uidMap: [{ inside: 0, outside: 1000, count: 1 }], setgroups: 'deny' });
  const ns2 = b.namespace(b.user(0, ns1));
  const real = b.cred({ uid: 1000, gid: 100, groups: [100, 4], caps: { permitted: 0x3n, effective: 0x1n, bounding: (1n << 41n) - 1n, ambient: 0x1n }, securebits: 0x15 });
  const eff = b.cred({ uid: 0, user: b.user(0, ns2), securebits: null });
  b.task(real, { ecred: eff, noNewPrivs: true, pids: { vpid: 42 } });
  b.task(real);
  return encode(b.build());
}

test('the report: header, tree of namespaces, both creds, same-object ecred', async () => {
  const file = join(dir, 'chain.img');
  writeFileSync(file, chainImage());
  const r = await cli(['inspect', file]);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  const out = r.stdout;
  expect(out).toContain('image:     x86-64, big-endian, dialect v21, CRED layout 88 bytes');
  expect(out).toContain("prefix:    HEADER_ARCH (fxsr 1, xsave 0, xstate_size 512), CONTAINER, LSM name 'default', LSM_INFO (0 bytes)");
  expect(out).toContain('kernel:    2.6.34');
  expect(out).toContain('written:   not recorded (time 0)');
  expect(out).toMatch(/^ {2}ns0 \(objref \d+\): root/m);
  expect(out).toMatch(/^ {2}└─ ns1 \(objref \d+\): created by uid 1000 of ns0; uid_map 0 1000 1; setgroups deny$/m);
  expect(out).toMatch(/^ {5}└─ ns2 \(objref \d+\): created by uid 0 of ns1$/m);
  expect(out).toContain('task 0: pid 42, ppid 0');
  expect(out).toContain('no_new_privs: yes');
  expect(out).toContain('groups:     4 100');
  expect(out).toContain('permitted   0000000000000003 CAP_CHOWN CAP_DAC_OVERRIDE');
  expect(out).toContain('bounding    000001ffffffffff (all, 0..40)');
  expect(out).toContain('ambient     0000000000000001 CAP_CHOWN');
  expect(out).toContain('securebits: 0x15 SECBIT_NOROOT SECBIT_NO_SETUID_FIXUP SECBIT_KEEP_CAPS');
  expect(out).toContain('securebits: unknown');
  expect(out).toContain('user:       uid 0 in ns2');
  expect(out).toMatch(/task 1: [^\n]*\n {2}no_new_privs: no\n {2}real cred[^\n]*\n(.*\n){10} {2}effective cred: the same object as the real cred/);
});

test("'-' and no FILE read stdin, with the same output as the file", async () => {
  const fromFile = await cli(['inspect', EXAMPLE]);
  expect(fromFile.code).toBe(0);
  const bytes = readFileSync(EXAMPLE);
  expect(await cli(['inspect', '-'], bytes)).toEqual(fromFile);
  expect(await cli(['inspect'], bytes)).toEqual(fromFile);
});

test('--json: the documented schema', async () => {
  const r = await cli(['inspect', '--json', '-'], chainImage());
  expect(r.code).toBe(0);
  const j = JSON.parse(r.stdout) as InspectJson;
  expect(j.schemaVersion).toBe(INSPECT_SCHEMA_VERSION);
  expect(INSPECT_SCHEMA_VERSION).toBe(2);
  expect(j.dialect).toBe('v21');
  expect(j.prefix).toEqual({
    headerArch: '0001000002000000', // big-endian u16 has_fxsr 1, has_xsave 0, xstate_size 512, pad
    x86: { hasFxsr: 1, hasXsave: 0, xstateSize: 512 },
    container: { body: '', lsmName: '64656661756c7400000000', lsm: 'default', lsmInfo: '' },
  });
  expect(j.header).toMatchObject({ byteOrder: 'big', arch: 2, archName: 'x86-64', kernelVersion: '2.6.34', time: '0', timeIso: '1970-01-01T00:00:00.000Z', credLayout: 88 });
  expect(j.userNamespaces.map((n) => [n.index, n.depth, n.creator])).toEqual([
    [0, 0, null],
    [1, 1, { uid: 1000, ns: 0 }],
    [2, 2, { uid: 0, ns: 1 }],
  ]);
  expect(j.userNamespaces[1]).toMatchObject({ uidMap: [{ inside: 0, outside: 1000, count: 1 }], gidMap: null, setgroups: 'deny', inode: null });
  for (const n of j.userNamespaces) expect(typeof n.objref).toBe('number');
  const [t0, t1] = j.tasks;
  expect(t0.pids.vpid).toBe(42);
  expect(t0.noNewPrivs).toBe(true);
  expect(t0.ecredSameAsCred).toBe(false);
  expect(t1.ecredSameAsCred).toBe(true);
  expect(t0.cred).toMatchObject({
    uid: 1000, euid: 1000, suid: 1000, fsuid: 1000, gid: 100, egid: 100, sgid: 100, fsgid: 100,
    groups: [4, 100],
    user: { uid: 1000, ns: 0 },
    caps: { inheritable: '0000000000000000', permitted: '0000000000000003', effective: '0000000000000001', bounding: '000001ffffffffff', ambient: '0000000000000001' },
    securebits: 0x15,
  });
  expect(t0.ecred).toMatchObject({ uid: 0, user: { uid: 0, ns: 2 }, securebits: null, securebitNames: null });
  expect(t1.cred.objref).toBe(t0.cred.objref);
});

test('the dialect an image was read in: the report and --json say it; v23 files as cr-creds wrote them before', async () => {
  const old = join(__dirname, '..', 'fixtures', 'v23', 'threads-le-88.img');
  const r = await cli(['inspect', old]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('image:     x86-64, little-endian, dialect v23, CRED layout 88 bytes');
  expect(r.stdout).toContain('prefix:    none (TREE follows the uts strings)');
  const j = JSON.parse((await cli(['inspect', '--json', old])).stdout) as InspectJson;
  expect(j.dialect).toBe('v23');
  expect(j.prefix).toEqual({ headerArch: null, x86: null, container: null });
  const img = new ImageBuilder({ dialect: 'v23', header: { time: 0n } });
  img.task(img.cred({ uid: 1 }));
  expect((JSON.parse((await cli(['inspect', '--json', '-'], encode(img.build()))).stdout) as InspectJson).dialect).toBe('v23');
});

test('a damaged image: exit 1 and the rule on stderr', async () => {
  const bytes = chainImage().slice(0, 300);
  const r = await cli(['inspect', '-'], bytes);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^cr-creds: <stdin>: offset \d+: [A-Z_]+: [a-z-]+: .+\n$/);
});

test('a missing file: exit 1', async () => {
  const r = await cli(['inspect', join(dir, 'nope.img')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^cr-creds: cannot read .*nope\.img: ENOENT/);
});

test('usage errors: exit 2', async () => {
  expect((await cli(['inspect', 'a', 'b'])).code).toBe(2);
  const r = await cli(['inspect', '--frobnicate', EXAMPLE]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('usage: cr-creds inspect');
});

test('the committed example: 3 tasks, a shared cred, a distinct ecred, a 2-level chain, an extension', async () => {
  const j = JSON.parse((await cli(['inspect', '--json', EXAMPLE])).stdout) as InspectJson;
  expect(j.tasks).toHaveLength(3);
  expect(j.tasks[1].cred.objref).toBe(j.tasks[2].cred.objref);
  expect(j.tasks[1].ecredSameAsCred).toBe(false);
  expect(Math.max(...j.userNamespaces.map((n) => n.depth))).toBe(2);
  expect(j.tasks.some((t) => t.cred.caps.ambient !== '0000000000000000' || t.noNewPrivs)).toBe(true);
});
