// `cr-creds checkpoint`: the securebits flags. --skip-securebits reads no securebits (no process
// is stopped or traced) and records them unknown; it and --allow-unknown-securebits exclude each
// other. Needs root for the default read (CI runs as root).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stopTracer } from '../../lib/checkpoint';
import { decode } from '../../lib/format';
import { native } from '../../lib/native/binding';
import { cli } from './io';

const target = spawn('sleep', ['1000'], { stdio: 'ignore' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-cli-'));

beforeAll(() => new Promise((r) => setTimeout(r, 100)));
afterAll(() => {
  target.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
  stopTracer();
});

test('--skip-securebits: securebits unknown, no ptrace helper started', async () => {
  expect(stopTracer()).toBe(true);
  const before = native().helperPids(); // none, or helpers still exiting
  const file = path.join(dir, 'skip.img');
  const r = await cli(['checkpoint', String(target.pid), '--skip-securebits', '-o', file]);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(decode(fs.readFileSync(file)).tasks[0].cred.securebits).toBeNull();
  expect(native().helperPids().filter((pid) => !before.includes(pid))).toEqual([]);
  const read = path.join(dir, 'read.img');
  expect((await cli(['checkpoint', String(target.pid), '-o', read])).code).toBe(0);
  expect(decode(fs.readFileSync(read)).tasks[0].cred.securebits).toBe(0);
});

test('--skip-securebits with --allow-unknown-securebits is a usage error', async () => {
  const r = await cli(['checkpoint', String(target.pid), '--skip-securebits', '--allow-unknown-securebits', '-o', path.join(dir, 'x.img')]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/exclude each other/);
  expect(fs.existsSync(path.join(dir, 'x.img'))).toBe(false);
});

test('--dialect: v21 by default (TREE 101 after the prefix), v23 on request, the same creds; a bad value is a usage error', async () => {
  const typesOf = (b: Uint8Array) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out: number[] = [];
    for (let off = 0; off < b.length; off += v.getUint32(off + 4, true)) out.push(v.getUint32(off, true));
    return out;
  };
  const files = { default: path.join(dir, 'd.img'), v21: path.join(dir, 'v21.img'), v23: path.join(dir, 'v23.img') };
  expect((await cli(['checkpoint', String(target.pid), '--skip-securebits', '-o', files.default])).code).toBe(0);
  expect((await cli(['checkpoint', String(target.pid), '--skip-securebits', '--dialect', 'v21', '-o', files.v21])).code).toBe(0);
  expect((await cli(['checkpoint', String(target.pid), '--skip-securebits', '--dialect=v23', '-o', files.v23])).code).toBe(0);
  const [d, a, b] = [files.default, files.v21, files.v23].map((f) => new Uint8Array(fs.readFileSync(f)));
  // HEADER, 3 uts, HEADER_ARCH, CONTAINER, LSM name, LSM_INFO, then TREE.
  expect(typesOf(d).slice(0, 9)).toEqual([1, 4, 4, 4, 2, 3, 4, 7, 101]);
  expect(typesOf(a)[8]).toBe(101);
  expect(typesOf(b)[8]).toBe(102);
  expect(decode(d).dialect).toBe('v21');
  expect(decode(b).dialect).toBe('v23');
  expect({ ...decode(b), dialect: 'v21', header: null }).toEqual({ ...decode(a), header: null });
  const bad = await cli(['checkpoint', String(target.pid), '--dialect', 'v22', '-o', path.join(dir, 'y.img')]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/^cr-creds: unknown --dialect 'v22' \(v21 or v23\)/);
  expect(fs.existsSync(path.join(dir, 'y.img'))).toBe(false);
});
