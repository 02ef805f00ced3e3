// `cr-creds convert`, both directions, in-process: files, stdin/stdout, the lossy list on stderr,
// --strict, and usage errors (exit 2).
import * as fs from 'fs';
import * as path from 'path';
import { criu } from '../../lib';
import { ImageBuilder, decode, encode } from '../../lib/format';
import { PassThrough, Writable } from 'stream';
import { main } from '../../lib/cli/main';
import { cli } from '../cli/io';
import { copyDump, copyDumpInUserns, dumpPid, fixture, tmpPath } from './helpers';

test('--from criu DIR -o FILE: the image, written atomically; nothing on stdout or stderr', async () => {
  const out = tmpPath('img');
  fs.mkdirSync(out);
  const file = path.join(out, 'x.img');
  const r = await cli(['convert', '--from', 'criu', fixture('nnp'), '-o', file]);
  expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
  expect(fs.readdirSync(out)).toEqual(['x.img']);
  const image = decode(fs.readFileSync(file));
  expect(image.tasks[0].noNewPrivs).toBe(true);
  expect(image.tasks[0].cred.securebits).toBe(32);
});

/** The CLI with stdout kept as bytes (the io helper decodes it as text). */
async function cliBinary(argv: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (into: Buffer[]) => new Writable({ write: (chunk, _enc, cb) => (into.push(Buffer.from(chunk)), cb()) });
  const code = await main(argv, { stdin: new PassThrough().end(), stdout: sink(out), stderr: sink(err), isTTY: false });
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

test('--from criu DIR: the image on stdout when -o is - or absent', async () => {
  for (const args of [[], ['-o', '-']]) {
    const r = await cliBinary(['convert', '--from', 'criu', fixture('ambient'), ...args]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(decode(r.stdout).tasks[0].cred.caps.ambient).toBe(1n << 13n);
  }
});

test('--to criu FILE -o DIR, and from stdin: CRIU images our reader reads back', async () => {
  const out = tmpPath('criu');
  let r = await cli(['convert', '--from', 'criu', fixture('groups-caps-secbits'), '-o', `${out}.img`]);
  expect(r.code).toBe(0);
  r = await cli(['convert', '--to', 'criu', `${out}.img`, '-o', out]);
  expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
  const pid = dumpPid('groups-caps-secbits');
  expect(fs.readdirSync(out).sort()).toEqual([`core-${pid}.img`, `ids-${pid}.img`, 'inventory.img', 'pstree.img']);
  const original = await criu.readCriuDir(fixture('groups-caps-secbits'));
  expect((await criu.readCriuDir(out)).tasks).toEqual(original.tasks);

  const viaStdin = tmpPath('criu');
  r = await cli(['convert', '--to', 'criu', '-o', viaStdin], fs.readFileSync(`${out}.img`));
  expect(r.code).toBe(0);
  expect((await criu.readCriuDir(viaStdin)).tasks).toEqual(original.tasks);
});

test('--dialect with --from criu: v21 by default, v23 on request; --to criu reads either', async () => {
  const out = tmpPath('dialect');
  fs.mkdirSync(out);
  const v21 = path.join(out, 'a.img');
  const v23 = path.join(out, 'b.img');
  expect((await cli(['convert', '--from', 'criu', fixture('groups-caps-secbits'), '-o', v21])).code).toBe(0);
  expect((await cli(['convert', '--from', 'criu', fixture('groups-caps-secbits'), '--dialect', 'v23', '-o', v23])).code).toBe(0);
  const a = decode(fs.readFileSync(v21));
  const b = decode(fs.readFileSync(v23));
  expect([a.dialect, b.dialect]).toEqual(['v21', 'v23']);
  expect({ ...b, dialect: 'v21' }).toEqual(a);
  const original = await criu.readCriuDir(fixture('groups-caps-secbits'));
  for (const f of [v21, v23]) {
    const dir = tmpPath('criu');
    expect((await cli(['convert', '--to', 'criu', f, '-o', dir])).code).toBe(0);
    expect((await criu.readCriuDir(dir)).tasks).toEqual(original.tasks);
  }
  const misuse = await cli(['convert', '--to', 'criu', v21, '--dialect', 'v23', '-o', tmpPath('criu')]);
  expect(misuse.code).toBe(2);
  expect(misuse.stderr).toMatch(/--dialect goes with --from criu/);
});

function lossyImage(): Uint8Array {
  const b = new ImageBuilder();
  const a = b.namespace(b.user(1000), { uidMap: [{ inside: 0, outside: 100000, count: 10 }], gidMap: [{ inside: 0, outside: 100000, count: 10 }] });
  const real = b.cred({ uid: 1, user: b.user(1, a) });
  b.task(real, { ecred: b.cred({ uid: 1, euid: 0, user: b.user(1, a) }), pids: { vpid: 42, vtgid: 42, vppid: 0 } });
  return encode(b.build());
}

test('--to criu: what CRIU cannot hold is listed on stderr, one sentence a line; the dump is written', async () => {
  const out = tmpPath('criu');
  const r = await cli(['convert', '--to', 'criu', '-o', out], lossyImage());
  expect(r.code).toBe(0);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')).toEqual([
    "cr-creds: not carried into the CRIU images: the user namespace's creator (uid 1000) is not recorded by CRIU, which creates it as root.",
    'cr-creds: not carried into the CRIU images: thread 42: the effective (subjective) cred differs from the real one; CRIU holds one cred per thread, and the real one is written.',
    '',
  ]);
  expect(fs.existsSync(path.join(out, 'inventory.img'))).toBe(true);
});

test('--strict: refuses with exit 1 and writes nothing when anything would be lost', async () => {
  const out = tmpPath('criu');
  let r = await cli(['convert', '--to', 'criu', '--strict', '-o', out], lossyImage());
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('not carried into the CRIU images: thread 42: the effective');
  expect(r.stderr.trimEnd().split('\n').pop()).toBe('cr-creds: --strict: nothing written: 2 things would be lost');
  expect(fs.existsSync(out)).toBe(false);

  // A CRIU dump with an LSM profile: the image has no place for it.
  const dir = copyDump('plain-root');
  const pid = dumpPid('plain-root');
  const coreFile = path.join(dir, `core-${pid}.img`);
  const [core] = await criu.readCriuFile(coreFile, 'core');
  core.thread_core!.creds!.lsm_profile = 'unconfined';
  fs.writeFileSync(coreFile, criu.encodeImage('core', [core]));
  const img = `${tmpPath('img')}.img`;
  r = await cli(['convert', '--from', 'criu', dir, '--strict', '-o', img]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(
    `cr-creds: not carried into the image: thread ${pid}: the LSM profile 'unconfined' has no place in a linux-cr image.\n` +
      'cr-creds: --strict: nothing written: 1 thing would be lost\n',
  );
  expect(fs.existsSync(img)).toBe(false);
  // Without --strict it is written, the loss still said.
  r = await cli(['convert', '--from', 'criu', dir, '-o', img]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("the LSM profile 'unconfined'");
  expect(fs.existsSync(img)).toBe(true);

  // Nothing lost: --strict is silent.
  r = await cli(['convert', '--from', 'criu', fixture('plain-root'), '--strict', '-o', img]);
  expect([r.code, r.stderr]).toEqual([0, '']);
});

test('assumptions are said, and do not count for --strict', async () => {
  const dir = await copyDumpInUserns('plain-root', 30);
  fs.writeFileSync(path.join(dir, 'userns-30.img'), criu.encodeImage('userns', [{ uid_map: [{ first: 0, lower_first: 100000, count: 65536 }] }]));
  const r = await cli(['convert', '--from', 'criu', dir, '--strict', '-o', `${tmpPath('img')}.img`]);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe(
    "cr-creds: assumed: CRIU does not record who created user namespace 30; uid 0 of the restarter's namespace is taken as its creator, the user criu restore creates it as.\n",
  );
});

test('failures: a damaged dump, a damaged image, a directory that is not empty (exit 1)', async () => {
  const dir = copyDump('plain-root');
  fs.writeFileSync(path.join(dir, 'pstree.img'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
  let r = await cli(['convert', '--from', 'criu', dir, '-o', `${tmpPath('img')}.img`]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`cr-creds: ${path.join(dir, 'pstree.img')}: offset 0: bad-magic: not a CRIU pstree image: magic 0x04030201, expected 0x54564319\n`);

  r = await cli(['convert', '--from', 'criu', tmpPath('nothing'), '-o', `${tmpPath('img')}.img`]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/inventory\.img: offset 0: missing-file: no such file\n$/);

  r = await cli(['convert', '--to', 'criu', '-o', tmpPath('criu')], new Uint8Array([1, 2, 3]));
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^cr-creds: <stdin>: offset 0: /);

  r = await cli(['convert', '--to', 'criu', path.join(dir, 'missing.img'), '-o', tmpPath('criu')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^cr-creds: cannot read .*missing\.img: ENOENT/);

  r = await cli(['convert', '--to', 'criu', '-o', dir], lossyImage());
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`cr-creds: ${dir} is not empty: refusing to mix these images with other files\n`);

  const b = new ImageBuilder();
  b.task(b.cred({ uid: 0 }), { pids: { vpid: 11, vtgid: 10 } });
  r = await cli(['convert', '--to', 'criu', '-o', tmpPath('criu')], encode(b.build()));
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('its leader is not');
});

test.each([
  [[], 'give exactly one of --from criu and --to criu'],
  [['--from', 'criu', '--to', 'criu', 'x'], 'give exactly one of --from criu and --to criu'],
  [['--from', 'docker', 'x'], "unknown --from 'docker' (criu)"],
  [['--to', 'tar', '-o', 'x'], "unknown --to 'tar' (criu)"],
  [['--from', 'criu'], '--from criu takes one DIR, the CRIU dump directory'],
  [['--from', 'criu', 'a', 'b'], '--from criu takes one DIR, the CRIU dump directory'],
  [['--to', 'criu', 'a.img'], '-o DIR is required: the directory for the CRIU images'],
  [['--to', 'criu', 'a.img', 'b.img', '-o', 'd'], '--to criu takes at most one FILE'],
  [['--from', 'criu', 'd', '--bogus'], "unknown option '--bogus'"],
])('usage error %j: exit 2 with the usage', async (args, message) => {
  const r = await cli(['convert', ...args]);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain(message);
  expect(r.stderr).toContain('usage: cr-creds convert --from criu DIR [-o FILE | -] [--dialect v21|v23]');
  expect(r.stderr).toMatch(/^cr-creds: [^\n]+\nusage: /);
});

test('listed in --help', async () => {
  const r = await cli(['--help']);
  expect(r.stdout).toMatch(/\n {2}convert +convert credentials between CRIU dump files and a linux-cr image\n/);
});
