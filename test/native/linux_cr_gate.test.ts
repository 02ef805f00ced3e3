// The linux-cr syscall gate (native/linux_cr.cc): on a kernel without sys_checkpoint the call is
// a typed error raised without any syscall, and no code path of the addon issues 312-314
// (kcmp, finit_module, sched_setattr on x86-64 today). Checked under strace.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native } from '../../lib/native/binding';
import { credproc, killAll } from '../checkpoint/helpers/procs';

afterAll(killAll);

const hasLinuxCr = /\s(__\w+_)?sys_checkpoint(\s|$)/m.test(fs.readFileSync('/proc/kallsyms', 'utf8'));
const hasStrace = spawnSync('strace', ['-V']).status === 0;

test('linuxCrAvailable agrees with /proc/kallsyms', () => {
  expect(native().linuxCrAvailable()).toBe(hasLinuxCr);
});

// On a kernel with the series the call would be real; the typed refusal is what we test here.
(hasLinuxCr ? test.skip : test)('without sys_checkpoint, linuxCrCheckpoint is ERR_NO_LINUX_CR', () => {
  expect(() => native().linuxCrCheckpoint(process.pid, 1, 0)).toThrow(
    expect.objectContaining({ code: 'ERR_NO_LINUX_CR', message: expect.stringMatching(/sys_checkpoint is not in \/proc\/kallsyms/) }),
  );
});

// strace is a CI package (.ci/run); locally it may be missing, in CI it must be there.
(hasStrace || process.env.CI ? test : test.skip)('no syscall 312-314 is ever issued (under strace -f)', async () => {
  const target = await credproc(['--nest=2', '--securebits=16']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-strace-'));
  const log = path.join(dir, 'log');
  const script = `
    const b = require('node-gyp-build')(${JSON.stringify(path.join(__dirname, '..', '..'))});
    (async () => {
      b.probe();
      await b.readLiveTasks([${target.pid}, process.pid], { threads: true, unknownSecurebits: 'mark' });
      await b.readUserNsChain(${target.pid});
      await b.readSecurebits(${target.pid});
      try { b.linuxCrCheckpoint(${target.pid}, 1, 0); } catch (e) { if (e.code !== 'ERR_NO_LINUX_CR') throw e; }
      console.log('done');
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const child = spawn('strace', ['-f', '-qq', '-o', log, '-e', 'trace=kcmp,finit_module,sched_setattr,ptrace', 'node', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: path.join(__dirname, '..', '..'),
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const code = await new Promise((r) => child.on('close', r));
  expect(out).toContain('done');
  expect(code).toBe(0);
  const text = fs.readFileSync(log, 'utf8');
  expect(text).toMatch(/ptrace\(PTRACE_SEIZE/); // the filter really saw the addon's syscalls
  expect(text).not.toMatch(/kcmp|finit_module|sched_setattr|syscall_0x13[89a]|syscall_31[234]/);
  fs.rmSync(dir, { recursive: true, force: true });
}, 60000);
