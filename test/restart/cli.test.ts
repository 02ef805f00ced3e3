// `cr-creds restart` as a user runs it: a separate process, the program's stdout its own, the
// exit code passed through (128+signal), signals passed on, refusals on stderr with exit 1.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CAP, capBit } from '../../lib/model';
import { ImageBuilder, encode } from '../../lib/format';
import { native } from '../../lib/native/binding';
import { compiledPackage } from './helpers';

const me = native().readThreadCreds();
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETUID)) !== 0n;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the restart CLI tests must not skip');
const rootTest = isRoot ? test : test.skip;

let pkg = '';
let dir = '';
let image = '';
let denied = '';
beforeAll(() => {
  pkg = compiledPackage('cli');
  // Images are written for every test; running them needs root (skipped otherwise, never in CI).
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-cli-img-'));
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 1000, gid: 1000, groups: [27], caps: { bounding: me.caps.bounding } }));
  image = path.join(dir, 'user.img');
  fs.writeFileSync(image, encode(b.build()));
  const d = new ImageBuilder();
  d.task(d.cred({ uid: 1000, caps: { bounding: me.caps.bounding | capBit(CAP.SYS_RESOURCE) } }));
  denied = path.join(dir, 'denied.img');
  fs.writeFileSync(denied, encode(d.build()));
}, 60000);
afterAll(() => {
  fs.rmSync(pkg, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return spawnSync(process.execPath, [path.join(pkg, 'dist', 'cli', 'main.js'), 'restart', ...args], { encoding: 'utf8', cwd: '/' }); // CMD runs as uid 1000: a cwd it can enter
}

describe('cr-creds restart', () => {
  rootTest("runs CMD with the image's creds; CMD's stdout is its own; its exit code is ours", () => {
    const r = cli([image, '--', 'sh', '-c', 'id -u; id -G; exit 3']);
    expect(r.stdout).toBe('1000\n1000 27\n');
    expect(r.status).toBe(3);
  });

  rootTest('a signal death exits 128+signal', () => {
    const r = cli([image, '--', 'sh', '-c', 'kill -TERM $$']);
    expect(r.status).toBe(128 + 15);
  });

  rootTest('--dry-run --json prints the plan and starts nothing', () => {
    const r = cli([image, '--dry-run', '--json', '--', 'sh', '-c', 'echo should-not-run']);
    expect(r.status).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.exec.cred.uid).toBe(1000);
    expect(plan.ops.map((o: { op: string }) => o.op)).toEqual(expect.arrayContaining(['setgroups', 'setresgid', 'setresuid', 'capset']));
    expect(r.stdout).not.toContain('should-not-run\n');
  });

  rootTest('a refusal exits 1 with the reasons on stderr, nothing on stdout', () => {
    const r = cli([denied, '--', 'sh', '-c', 'echo ran']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/restart denied/);
    expect(r.stderr).toMatch(/CAP_SYS_RESOURCE/);
  });

  test('usage errors exit 2', () => {
    expect(cli([]).status).toBe(2);
    expect(cli([image]).status).toBe(2);
    expect(cli([image, '--task', '1', '--pid', '2', '--', 'true']).status).toBe(2);
  });

  rootTest('signals sent to the CLI reach CMD', async () => {
    const sigs = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
    for (const sig of sigs) {
      const p = spawn(process.execPath, [path.join(pkg, 'dist', 'cli', 'main.js'), 'restart', image, '--', 'sh', '-c', `trap 'echo got; exit 42' ${sig.slice(3)}; echo ready; while [ -d /proc/$PPID ]; do sleep 0.05; done`], { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/' });
      await new Promise<void>((resolve) => p.stdout.once('data', () => resolve()));
      // (the loop ends by itself if the CLI dies, so a failure leaves no orphan behind)
      p.kill(sig);
      const code = await new Promise<number | null>((resolve) => p.once('exit', (c) => resolve(c)));
      expect([sig, code]).toEqual([sig, 42]);
    }
  });
});
