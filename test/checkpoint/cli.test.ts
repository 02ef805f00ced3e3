// cr-creds checkpoint: the CLI over checkpoint()/checkpointTree(), through main() in-process.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { main } from '../../lib/cli/main';
import { decode } from '../../lib/format';
import { credproc, killAll, waitExit } from './helpers/procs';

afterAll(killAll);

async function run(argv: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  let err = '';
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => (err += d));
  const code = await main(argv, { stdin: new PassThrough(), stdout, stderr, isTTY: false });
  return { code, stdout: Buffer.concat(out), stderr: err };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('-o FILE writes a decodable image, atomically (no temp file left)', async () => {
  const p = await credproc(['--securebits=16', '--groups=5,6']);
  const file = path.join(dir, 'one.img');
  const r = await run(['checkpoint', String(p.pid), '-o', file]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const image = decode(fs.readFileSync(file));
  expect(image.tasks[0].pids.vpid).toBe(p.pid);
  expect(image.tasks[0].cred.securebits).toBe(16);
  expect(image.tasks[0].cred.groups.gids).toEqual([5, 6]);
  expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
});

test("-o - writes the image to stdout; --threads gives one task per thread", async () => {
  const p = await credproc(['--thread-eff=0']);
  const r = await run(['checkpoint', String(p.pid), '--threads', '-o', '-']);
  expect(r.code).toBe(0);
  expect(decode(r.stdout).tasks).toHaveLength(2);
});

test('--tree covers descendants; --compat=linux-cr refuses ambient caps with exit 1', async () => {
  const p = await credproc([]);
  const r = await run(['checkpoint', String(p.pid), '--tree', '--compat=linux-cr', '-o', '-']);
  expect(r.code).toBe(0);
  expect(decode(r.stdout).tasks.map((t) => t.pids.vpid)).toEqual([p.pid]);
  const amb = await credproc(['--caps=400,400,0', '--ambient=400']);
  const bad = await run(['checkpoint', String(amb.pid), '--compat=linux-cr', '-o', path.join(dir, 'x.img')]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/^cr-creds: cannot checkpoint as a linux-cr image: .*ambient/);
  expect(fs.existsSync(path.join(dir, 'x.img'))).toBe(false);
});

test('a vanished pid: exit 1 with the pid named', async () => {
  const p = await credproc([]);
  p.kill();
  await waitExit(p.child); // reaped: its pid is gone
  const r = await run(['checkpoint', String(p.pid), '-o', '-']);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`cr-creds: process ${p.pid}: no such process\n`);
});

test.each([
  [['checkpoint', '-o', '-'], /no PID/],
  [['checkpoint', '12'], /-o FILE is required/],
  [['checkpoint', 'abc', '-o', '-'], /not a pid/],
  [['checkpoint', '1', '2', '--tree', '-o', '-'], /--tree takes exactly one PID/],
  [['checkpoint', '1', '--compat=criu', '-o', '-'], /unknown --compat/],
])('usage error %j: exit 2', async (argv, message) => {
  const r = await run(argv);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
});
