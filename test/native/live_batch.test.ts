// Many processes in one readLiveTasks call (one ptrace helper for all, the next process
// interrupted ahead), the flat answer readLive uses, the native tree step, and the injection's
// stub, which writes no code of the task's own and leaves its vDSO as it was (native/live_read.cc,
// native/securebits_inject.cc).
import { spawn } from 'child_process';
import * as fs from 'fs';
import { native, type LiveTask } from '../../lib/native/binding';
import { readLive } from '../../lib/checkpoint';
import { credproc, expectAsleepAgain, expectUntraced, killAll, pollUntil, procStatus, waitExit, zombieChild } from '../checkpoint/helpers/procs';

afterAll(killAll);

/** The bytes of a process's vDSO (read through /proc/PID/mem). */
function vdso(pid: number): Buffer {
  const m = /^([0-9a-f]+)-([0-9a-f]+) .*\[vdso\]$/m.exec(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'))!;
  const [start, end] = [parseInt(m[1], 16), parseInt(m[2], 16)];
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** Anonymous (private, copied-on-write) memory in the task's file-backed executable mappings. */
function anonInText(pid: number): number {
  let total = 0;
  let text = false;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(\S*)/.exec(line);
    if (head) text = head[1].includes('x') && head[2].startsWith('/');
    else if (text && line.startsWith('Anonymous:')) total += Number(line.split(/\s+/)[1]);
  }
  return total;
}

describe('readLiveTasks, many processes at once', () => {
  test('each process its own securebits, every one left untraced', async () => {
    const bits = [0, 16, 4, 1, 16];
    const procs = await Promise.all(bits.map((b) => credproc([`--securebits=${b}`])));
    const tasks = await native().readLiveTasks(procs.map((p) => p.pid));
    expect(tasks.map((t) => t.threads[0].securebits)).toEqual(bits);
    for (const p of procs) expectUntraced(p.pid);
  });

  test('the same pid twice, and our own process among the others', async () => {
    const p = await credproc(['--securebits=16']);
    const tasks = await native().readLiveTasks([p.pid, p.pid, process.pid, p.pid]);
    expect(tasks.map((t) => t.threads[0].securebits)).toEqual([16, 16, native().readThreadCreds().securebits, 16]);
    expectUntraced(p.pid);
  });

  test("ptrace refused for one in the middle: 'mark' reads the others, 'fail' names it", async () => {
    const [a, b, c] = await Promise.all([credproc(['--securebits=1']), credproc([]), credproc(['--securebits=4'])]);
    const tracer = spawn('strace', ['-qq', '-o', '/dev/null', '-p', String(b.pid)], { stdio: 'ignore' });
    try {
      expect(await pollUntil(() => procStatus(b.pid).TracerPid !== '0', 5000)).toBe(true); // strace holds it
      const tasks = await native().readLiveTasks([a.pid, b.pid, c.pid], { unknownSecurebits: 'mark' });
      expect(tasks.map((t) => t.threads[0].securebits)).toEqual([1, null, 4]);
      expect(tasks[1].threads[0].securebitsError).toMatch(/PTRACE_SEIZE.*EPERM/);
      await expect(native().readLiveTasks([a.pid, b.pid, c.pid])).rejects.toMatchObject({ code: 'ERR_SECUREBITS_UNREADABLE', pid: b.pid });
      expectUntraced(a.pid);
      expectUntraced(c.pid);
    } finally {
      tracer.kill('SIGKILL');
    }
  });

  test('a vanished pid after live ones: ESRCH for it, the live ones left untraced', async () => {
    const [a, gone] = await Promise.all([credproc([]), credproc([])]);
    gone.kill();
    await waitExit(gone.child); // reaped: its pid is gone
    await expect(native().readLiveTasks([a.pid, gone.pid])).rejects.toMatchObject({ code: 'ESRCH', pid: gone.pid });
    expectUntraced(a.pid);
  });

  test('when the read returns, a stopped task is stopped again; a sleeping one is asleep again a moment later', async () => {
    // The tracer answers before the sleeping task has gone back into its read() (it settles it
    // right after, before its next job): the caller gets the answer a wake-up sooner.
    const stopped = await credproc([]);
    const reading = await credproc(['--block=read'], { stdin: 'pipe' });
    const stoppedNow = () => procStatus(stopped.pid).State.startsWith('T');
    process.kill(stopped.pid, 'SIGSTOP');
    expect(await pollUntil(stoppedNow, 2000)).toBe(true);
    for (let i = 0; i < 20; i++) {
      await native().readLiveTasks([stopped.pid, reading.pid]);
      // Let go at once; back in its group stop a moment after the detach.
      expect(procStatus(stopped.pid).TracerPid).toBe('0');
      await pollUntil(stoppedNow, 2000);
      expectUntraced(stopped.pid, /^T/);
      await expectAsleepAgain(reading.pid);
    }
    process.kill(stopped.pid, 'SIGCONT');
  });

  test("the task's code is not written: no private copy of a text page, and its vDSO as it was", async () => {
    // A task asleep in nanosleep for as long as the test takes (credproc's sleep ends after 1 s).
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const p = { pid: child.pid! };
    try {
      await new Promise((r) => setTimeout(r, 100));
      const before = anonInText(p.pid);
      for (let i = 0; i < 3; i++) expect(await native().readSecurebits(p.pid)).toEqual([0]);
      expect(anonInText(p.pid)).toBe(before);
      // Back to back: a read often catches the task on its way back into its nanosleep (the answer
      // comes before it is asleep again): the stub serves it all the same.
      for (let i = 0; i < 300; i++) expect((await native().readLiveTasksFlat([p.pid])).nums[8]).toBe(0);
      expect(anonInText(p.pid)).toBe(before);
      expectUntraced(p.pid);
      // The stub's bytes are put back in the vDSO's padding: it reads as ours (the same image).
      expect(vdso(p.pid).equals(vdso(process.pid))).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('readLiveTasksFlat', () => {
  test('holds what readLiveTasks returns (threads, marks, our own process)', async () => {
    const p = await credproc(['--thread-eff=0', '--securebits=16']);
    const opts = { threads: true, unknownSecurebits: 'mark' as const };
    const pids = [p.pid, process.pid];
    const objects = await native().readLiveTasks(pids, opts);
    const flat = await native().readLiveTasksFlat(pids, opts);
    const viaReadLive = await readLive(pids, opts);
    expect(Object.prototype.toString.call(flat.nums)).toBe('[object Float64Array]');
    expect(Object.prototype.toString.call(flat.bigs)).toBe('[object BigUint64Array]');
    expect(flat.strings.length).toBeGreaterThan(0); // threads of our own process: unknown, with a reason
    // readLive makes its objects from the flat answer: the same creds as from the objects
    const some = (t: LiveTask) => t.threads.map((th) => [th.tid, th.uids[0], th.groups, th.caps, th.securebits]);
    expect(viaReadLive.map((l) => l.threads.map((th) => [th.tid, th.uid, th.groups, th.caps, th.securebits]))).toEqual(objects.map(some));
    expect(viaReadLive[0].threads[1].caps.effective).toBe(0n);
    expect(objects[1].threads[1].securebitsError).toBe('a thread of the calling process');
  });
});

describe('readChildren', () => {
  test('-2 before the count of a zombie (exited, not reaped by its parent), which has no children', async () => {
    const { parent, zombie } = await zombieChild();
    try {
      expect(Array.from(await native().readChildren([parent.pid!, zombie]))).toEqual([1, zombie, -2, 0]);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  test('the children of each pid in order; -1 for a process that is gone', async () => {
    const sh = spawn('sh', ['-c', 'sleep 100 & sleep 100 & echo ready $$; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const shPid = await new Promise<number>((r) => sh.stdout!.on('data', (d: Buffer) => r(Number(/ready (\d+)/.exec(String(d))![1]))));
    const gone = await credproc([]);
    gone.kill();
    await waitExit(gone.child); // reaped: its pid is gone
    let kids: number[] = [];
    try {
      for (let i = 0; i < 100 && kids.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const flat = await native().readChildren([shPid]);
        kids = Array.from(flat.subarray(1, 1 + flat[0]));
      }
      const expected = fs
        .readFileSync(`/proc/${shPid}/task/${shPid}/children`, 'utf8')
        .trim()
        .split(' ')
        .map(Number);
      const flat = Array.from(await native().readChildren([gone.pid, shPid, kids[0]]));
      expect(flat).toEqual([-1, 2, ...expected, 0]);
    } finally {
      for (const pid of [...kids, shPid]) process.kill(pid, 'SIGKILL');
    }
  });
});
