// readLiveTasks and the strict /proc/PID/status parser (native/live_read.cc, native/proc_status.cc).
import * as fs from 'fs';
import { native } from '../../lib/native/binding';
import { credproc, killAll, waitExit } from '../checkpoint/helpers/procs';

afterAll(killAll);

const own = fs.readFileSync('/proc/self/status', 'utf8');

describe('parseProcStatus', () => {
  test('parses our own status into the values /proc shows', () => {
    const s = native().parseProcStatus(own);
    expect(s.pid).toBe(process.pid);
    expect(s.tgid).toBe(process.pid);
    expect(s.uids).toEqual(own.match(/^Uid:\s+(.*)$/m)![1].split(/\s+/).map(Number));
    expect(s.caps.bounding).toBe(BigInt('0x' + own.match(/^CapBnd:\s+(\w+)$/m)![1]));
    expect(s.nspid[s.nspid.length - 1]).toBe(process.pid);
  });

  test.each([
    ['a Uid line with three ids', own.replace(/^Uid:.*$/m, 'Uid:\t0\t0\t0'), /malformed 'Uid' line/],
    ['a non-numeric gid', own.replace(/^Gid:.*$/m, 'Gid:\t0\tx\t0\t0'), /malformed 'Gid' line/],
    ['a short CapEff', own.replace(/^CapEff:.*$/m, 'CapEff:\t1ff'), /malformed 'CapEff' line/],
    ['a line without a colon', own.replace(/^Groups:.*$/m, 'Groups 1 2'), /not a 'Key: value' line/],
    ['a repeated Pid line', own + 'Pid:\t1\n', /repeated 'Pid' line/],
    ['no Uid line', own.replace(/^Uid:.*\n/m, ''), /no 'Uid' line/],
    ['an id beyond 32 bits', own.replace(/^Uid:.*$/m, 'Uid:\t4294967296\t0\t0\t0'), /malformed 'Uid' line/],
  ])('rejects %s with ERR_PROC_PARSE naming the line', (_name, text, message) => {
    let err: (Error & { code?: string }) | undefined;
    try {
      native().parseProcStatus(text, '/proc/1/status');
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('ERR_PROC_PARSE');
    expect(err?.message).toMatch(message);
    expect(err?.message).toMatch(/^\/proc\/1\/status/);
  });
});

describe('readLiveTasks', () => {
  test('a vanished pid is ESRCH with the syscall and the pid, not a parse error', async () => {
    const p = await credproc([]);
    p.kill();
    await waitExit(p.child); // reaped: its pid is gone
    await expect(native().readLiveTasks([p.pid])).rejects.toMatchObject({
      code: 'ESRCH',
      pid: p.pid,
      syscall: expect.stringMatching(/status/),
    });
  });

  test('reads every thread when asked, the leader first', async () => {
    const p = await credproc(['--thread-eff=0']);
    const [t] = await native().readLiveTasks([p.pid], { threads: true });
    expect(t.threads.map((x) => x.tid)[0]).toBe(p.pid);
    expect(t.threads).toHaveLength(2);
    expect(t.threads[1].caps.effective).toBe(0n);
    expect(t.threads[0].caps.effective).not.toBe(0n);
    const [one] = await native().readLiveTasks([p.pid]);
    expect(one.threads).toHaveLength(1);
  });

  test('pids: vpid, vtgid, vpgid, vsid are the task view (no pid namespace: the global ones)', async () => {
    const p = await credproc([]);
    const [t] = await native().readLiveTasks([p.pid], { unknownSecurebits: 'skip' });
    const stat = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect([t.vpid, t.vtgid, t.vppid, t.vpgid, t.vsid]).toEqual([p.pid, p.pid, Number(f[1]), Number(f[2]), Number(f[3])]);
    expect(t.threads[0].securebits).toBeNull();
  });

  test('our own process: the calling thread prctl, no ptrace', async () => {
    const [t] = await native().readLiveTasks([process.pid]);
    expect(t.threads[0].securebits).toBe(native().readThreadCreds().securebits);
  });
});
