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
