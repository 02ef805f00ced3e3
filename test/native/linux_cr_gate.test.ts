// The linux-cr syscall gate (native/linux_cr.cc): on a kernel without sys_checkpoint the call is
// a typed error raised without any syscall, whatever number is asked for, and no code path of
// the addon issues any number the series ever used (301/302, 304/305, 312-314 on x86-64: today
// fanotify_mark, prlimit64, open_by_handle_at, clock_adjtime, kcmp, finit_module,
// sched_setattr). Checked under strace.
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
(hasLinuxCr ? test.skip : test)('without sys_checkpoint, linuxCrCheckpoint is ERR_NO_LINUX_CR, whatever the number', () => {
  for (const nr of [301, 304, 313, 339, 342, 348, 0])
    expect(() => native().linuxCrCheckpoint(process.pid, 1, 0, nr)).toThrow(
      expect.objectContaining({ code: 'ERR_NO_LINUX_CR', message: expect.stringMatching(/sys_checkpoint is not in \/proc\/kallsyms/) }),
    );
});

(hasLinuxCr ? test.skip : test)('without sys_restart, a spawn plan naming any era number for sys_restart is refused before fork', () => {
  for (const nr of [302, 305, 314, 340, 343, 349])
    expect(() =>
      native().spawn({
        files: ['/bin/true'], argv: ['true'], envp: [], stdio: ['ignore', 'ignore', 'ignore'],
        ops: [{ op: 'sys_restart' }], sysRestart: { image: new Uint8Array(16), standIn: false, nr }, onExit: () => undefined,
      }),
    ).toThrow(`spawn: refusing sys_restart syscall number ${nr}: /proc/kallsyms shows no sys_restart`);
});

// strace is a CI package (.ci/run); locally it may be missing, in CI it must be there.
(hasStrace || process.env.CI ? test : test.skip)('no number the series ever used is issued (under strace -f)', async () => {
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
      for (const nr of [301, 302, 304, 305, 312, 313, 314]) {
        try { b.linuxCrCheckpoint(${target.pid}, 1, 0, nr); } catch (e) { if (e.code !== 'ERR_NO_LINUX_CR') throw e; }
        try {
          b.spawn({ files: ['/bin/true'], argv: ['true'], envp: [], stdio: ['ignore', 'ignore', 'ignore'], ops: [{ op: 'sys_restart' }],
                    sysRestart: { image: new Uint8Array(16), standIn: false, nr }, onExit: () => undefined });
          throw new Error('spawned');
        } catch (e) { if (!/refusing sys_restart/.test(e.message)) throw e; }
      }
      console.log('done');
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const child = spawn('strace', ['-f', '-qq', '-o', log, '-e', 'trace=kcmp,finit_module,sched_setattr,fanotify_mark,prlimit64,open_by_handle_at,clock_adjtime,ptrace', 'node', '-e', script], {
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
  // Node and glibc query their own limits with prlimit64 (302); a linux-cr call through 302 would
  // name a pid or an image fd and flags instead of (0, RLIMIT_*, NULL, ...).
  const lines = text.split('\n').filter((l) => !/ prlimit64\(0, RLIMIT_[A-Z]+, NULL, /.test(l));
  expect(lines.join('\n')).not.toMatch(/kcmp|finit_module|sched_setattr|fanotify_mark|prlimit64|open_by_handle_at|clock_adjtime|syscall_0x13[89a]|syscall_0x12[d-f]|syscall_0x13[01]|syscall_3(0[1-5]|1[234])/);
  fs.rmSync(dir, { recursive: true, force: true });
}, 60000);
