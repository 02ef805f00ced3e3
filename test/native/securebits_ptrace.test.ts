// Securebits of another task, read by running prctl inside it over ptrace
// (native/securebits_ptrace.cc). After every read, success or failure, the task must be as it
// was: TracerPid 0, not stopped by us, its interrupted syscall restarted.
import { spawn } from 'child_process';
import { native } from '../../lib/native/binding';
import { SECBIT } from '../../lib/model/types';
import { credproc, expectAsleepAgain, expectUntraced, killAll, pollUntil, procStatus, waitExit, waitHeld } from '../checkpoint/helpers/procs';

afterAll(killAll);

describe('readSecurebits over ptrace', () => {
  test.each([
    ['none', 0],
    ['keep_caps', SECBIT.KEEP_CAPS],
    ['noroot with no_setuid_fixup', SECBIT.NOROOT | SECBIT.NO_SETUID_FIXUP],
    ['the same locked', SECBIT.NOROOT | SECBIT.NOROOT_LOCKED | SECBIT.NO_SETUID_FIXUP | SECBIT.NO_SETUID_FIXUP_LOCKED],
    ['no_cap_ambient_raise (above bit 5)', SECBIT.NO_CAP_AMBIENT_RAISE],
  ])('%s', async (_name, bits) => {
    const p = await credproc([`--securebits=${bits}`]);
    expect(await native().readSecurebits(p.pid)).toEqual([bits]);
    expectUntraced(p.pid);
  });

  test('threads answer for themselves', async () => {
    const p = await credproc(['--securebits=16', '--thread-eff=0']);
    const tids = (await native().readLiveTasks([p.pid], { threads: true, unknownSecurebits: 'skip' }))[0].threads.map((t) => t.tid);
    expect(await native().readSecurebits(p.pid, tids)).toEqual([16, 16]);
    for (const tid of tids) expect(procStatus(tid).TracerPid).toBe('0');
  });

  test('a task blocked in read() gets its read back: the data arrives after the injection', async () => {
    const p = await credproc(['--block=read'], { stdin: 'pipe' });
    await new Promise((r) => setTimeout(r, 50)); // let it enter read()
    expect(await native().readSecurebits(p.pid)).toEqual([0]);
    await expectAsleepAgain(p.pid);
    p.child.stdin!.write('hello\n');
    const exit = await waitExit(p.child);
    expect(p.output()).toContain('got hello');
    expect(exit.code).toBe(0);
  });

  test('a task in nanosleep sleeps its full time and is not woken with EINTR', async () => {
    const started = Date.now();
    const p = await credproc(['--block=sleep']);
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 5; i++) expect(await native().readSecurebits(p.pid)).toEqual([0]);
    const exit = await waitExit(p.child);
    expect(p.output()).toContain('slept');
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  test('a stopped (SIGSTOP) task stays stopped', async () => {
    const p = await credproc(['--securebits=16']);
    const stateIs = (re: RegExp) => () => re.test(procStatus(p.pid).State);
    process.kill(p.pid, 'SIGSTOP');
    expect(await pollUntil(stateIs(/^T/), 2000)).toBe(true);
    expect(await native().readSecurebits(p.pid)).toEqual([16]);
    // Let go at once; back in its group stop a moment after the detach.
    expect(procStatus(p.pid).TracerPid).toBe('0');
    await pollUntil(stateIs(/^T/), 2000);
    expectUntraced(p.pid, /^T/);
    process.kill(p.pid, 'SIGCONT');
    await pollUntil(stateIs(/^S/), 2000);
    expectUntraced(p.pid, /^S/);
  });

  test('a busy task (running user code) comes back running', async () => {
    const child = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 50));
      expect(await native().readSecurebits(child.pid!)).toEqual([0]);
      expectUntraced(child.pid!, /^[RS]/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a process that exits mid-checkpoint: ESRCH, nothing left traced', async () => {
    const p = await credproc([]);
    // Held 2 s: the kill, sent as soon as the tracer holds it, lands inside the hold.
    const pending = native().readSecurebits(p.pid, [p.pid], { testDelayMs: 2000 });
    await waitHeld(p.pid); // really caught under ptrace
    process.kill(p.pid, 'SIGKILL');
    await expect(pending).rejects.toMatchObject({ code: 'ESRCH', pid: p.pid });
    // our own child: its exit status went to libuv, not to the ptrace helper
    expect((await waitExit(p.child)).signal).toBe('SIGKILL');
  });

  test('a task already traced by someone else: EPERM from PTRACE_SEIZE, untouched', async () => {
    const p = await credproc([]);
    const tracer = spawn('strace', ['-qq', '-o', '/dev/null', '-p', String(p.pid)], { stdio: 'ignore' });
    try {
      expect(await pollUntil(() => procStatus(p.pid).TracerPid !== '0', 5000)).toBe(true); // strace holds it
      await expect(native().readSecurebits(p.pid)).rejects.toMatchObject({ code: 'EPERM', syscall: 'ptrace(PTRACE_SEIZE)' });
    } finally {
      tracer.kill('SIGKILL');
    }
  });
});
