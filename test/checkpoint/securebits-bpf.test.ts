// The BPF reader (native/securebits_bpf.cc): securebits read by a BPF task iterator, the task
// never stopped or traced. Needs root (CI runs as root): root may load the program; the
// unprivileged cases drop to uid 65534 in a child.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkpoint, stopTracer, SecurebitsReaderUnavailableError } from '../../lib/checkpoint';
import { native } from '../../lib/native/binding';
import { bpfReaderMissing, credproc, credprocPath, expectUntraced, killAll, procStatus } from './helpers/procs';

const ADDON = path.join(__dirname, '..', '..', 'build', 'Release', 'cr_creds.node');
const DIST = path.join(__dirname, '..', '..', 'dist');
/** Distinct securebits for n processes: each bit and lock, in turn. */
const bitsFor = (n: number) => Array.from({ length: n }, (_, i) => [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x05, 0x2f][i % 10]);

afterAll(() => {
  killAll();
  stopTracer();
});

const bpf = { securebitsReader: 'bpf' } as const;
const ptrace = { securebitsReader: 'ptrace' } as const;
const securebitsOf = async (pid: number, opts: object) => (await checkpoint(pid, opts)).tasks.map((t) => t.cred.securebits);
/** Times the task was switched out: a task that is stopped or woken switches. */
const switches = (pid: number) => {
  const s = procStatus(pid);
  return Number(s.voluntary_ctxt_switches) + Number(s.nonvoluntary_ctxt_switches);
};
/** Once the task sleeps and its count of switches holds still: the count. */
const settled = async (pid: number) => {
  let last = -1;
  for (let i = 0; i < 200; i++) {
    const now = switches(pid);
    if (now === last && /^S/.test(procStatus(pid).State)) return now;
    last = now;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`pid ${pid} never settled`);
};
/** Our descriptors that are BPF objects (a program, a link, an iterator). */
const bpfFds = () =>
  fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return /bpf/.test(fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      return false;
    }
  });

// The default reader is the subject of a test below: not the one the environment may name.
delete process.env.CR_CREDS_SECUREBITS_READER;

// Where the kernel or the caller cannot have it, these skip (saying why), but never under CI.
const missing = process.env.CI ? null : bpfReaderMissing();
if (missing) console.warn(`the BPF reader's tests skipped: ${missing}`);

(missing ? describe.skip : describe)('the BPF reader', () => {
  test('reads what the task itself holds, as the ptrace reader does, for every securebits value', async () => {
    // Each bit and lock on its own and together (credproc sets them with PR_SET_SECUREBITS).
    for (const bits of [0, 0x01, 0x03, 0x04, 0x0c, 0x10, 0x30, 0x40, 0xc0, 0x2f, 0xff]) {
      const p = await credproc([`--securebits=${bits}`]);
      expect({ bits, bpf: await securebitsOf(p.pid, bpf) }).toEqual({ bits, bpf: [bits] });
      expect({ bits, ptrace: await securebitsOf(p.pid, ptrace) }).toEqual({ bits, ptrace: [bits] });
      p.kill();
    }
  });

  test('reads every thread with { threads: true }, each by its own tid', async () => {
    const p = await credproc(['--securebits=16', '--thread-eff=0']);
    const viaBpf = await checkpoint(p.pid, { ...bpf, threads: true });
    const viaPtrace = await checkpoint(p.pid, { ...ptrace, threads: true });
    expect(viaBpf.tasks.length).toBe(2);
    expect(viaBpf.tasks.map((t) => t.cred.securebits)).toEqual([16, 16]);
    expect(viaBpf.tasks.map((t) => t.pids.vpid)).toEqual(viaPtrace.tasks.map((t) => t.pids.vpid));
    expect(viaBpf.tasks.map((t) => t.cred.caps.effective)).toEqual(viaPtrace.tasks.map((t) => t.cred.caps.effective));
  });

  test('many processes: every task of the system in one pass, each task its own value', async () => {
    // 40 processes (more than the 32 threads from which the reader takes one pass over all).
    const bits = bitsFor(40);
    const ps = await Promise.all(bits.map((b) => credproc([`--securebits=${b}`])));
    const pids = ps.map((p) => p.pid);
    const viaBpf = (await checkpoint(pids, bpf)).tasks.map((t) => t.cred.securebits);
    expect(viaBpf).toEqual(bits);
    expect((await checkpoint(pids, ptrace)).tasks.map((t) => t.cred.securebits)).toEqual(bits);
    for (const p of ps) p.kill();
  });

  test("in a pid namespace of its own (whose pids are not the kernel's): each thread by its own tid", () => {
    // The pass over every task gives the kernel's pids, which name other processes here (pid 2
    // is kthreadd outside): the reader must not use it. 40 processes, read with BPF and compared.
    const script = `
      const { spawn } = require('child_process');
      const { checkpoint } = require(${JSON.stringify(path.join(DIST, 'checkpoint'))});
      const bits = ${JSON.stringify(bitsFor(40))};
      (async () => {
        const ps = await Promise.all(bits.map((b) => new Promise((res) => {
          const c = spawn(${JSON.stringify(credprocPath())}, ['--securebits=' + b], { stdio: ['ignore', 'pipe', 'inherit'] });
          c.stdout.on('data', (d) => { const m = /ready (\\d+)/.exec(String(d)); if (m) res({ c, pid: Number(m[1]) }); });
        })));
        const image = await checkpoint(ps.map((p) => p.pid), { securebitsReader: 'bpf' });
        console.log(JSON.stringify({ pids: ps.map((p) => p.pid), bits: image.tasks.map((t) => t.cred.securebits) }));
        for (const p of ps) p.c.kill('SIGKILL');
        process.exit(0);
      })();`;
    const out = JSON.parse(execFileSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20000 }));
    expect(Math.max(...out.pids)).toBeLessThan(100); // a namespace of its own: small pids
    expect(out.bits).toEqual(bitsFor(40));
  });

  test('never stops or wakes the task, and starts no tracer; the ptrace reader does both', async () => {
    const p = await credproc(['--securebits=16']);
    expect(stopTracer()).toBe(true);
    const helpers = native().helperPids(); // none, or helpers of earlier tests still exiting
    const before = await settled(p.pid);
    for (let i = 0; i < 50; i++) expect(await securebitsOf(p.pid, bpf)).toEqual([16]);
    expect(switches(p.pid)).toBe(before); // asleep all along
    expect(native().helperPids().filter((h) => !helpers.includes(h))).toEqual([]);
    expectUntraced(p.pid);
    // The same check fails for the ptrace reader: it is no check that cannot fail.
    await securebitsOf(p.pid, ptrace);
    expect(switches(p.pid)).toBeGreaterThan(before);
    expect(native().helperPids().filter((h) => !helpers.includes(h))).toHaveLength(1);
  });

  test("is what 'auto' (the default) picks here, and CR_CREDS_SECUREBITS_READER overrides the default", async () => {
    const p = await credproc(['--securebits=4']);
    const before = await settled(p.pid);
    expect(await securebitsOf(p.pid, {})).toEqual([4]);
    expect(switches(p.pid)).toBe(before);
    const saved = process.env.CR_CREDS_SECUREBITS_READER;
    try {
      process.env.CR_CREDS_SECUREBITS_READER = 'ptrace';
      expect(await securebitsOf(p.pid, {})).toEqual([4]);
      expect(switches(p.pid)).toBeGreaterThan(before);
      expect(await securebitsOf(p.pid, bpf)).toEqual([4]); // the option wins over the environment
      process.env.CR_CREDS_SECUREBITS_READER = 'kernel';
      await expect(checkpoint(p.pid)).rejects.toThrow(/CR_CREDS_SECUREBITS_READER must be auto, bpf or ptrace/);
    } finally {
      if (saved === undefined) delete process.env.CR_CREDS_SECUREBITS_READER;
      else process.env.CR_CREDS_SECUREBITS_READER = saved;
    }
  });

  test('reads a stopped task and leaves it stopped, untraced', async () => {
    const p = await credproc(['--securebits=1']);
    process.kill(p.pid, 'SIGSTOP');
    try {
      for (let i = 0; i < 50 && !/^T/.test(procStatus(p.pid).State); i++) await new Promise((r) => setTimeout(r, 10));
      expect(await securebitsOf(p.pid, bpf)).toEqual([1]);
      expectUntraced(p.pid, /^T/);
    } finally {
      process.kill(p.pid, 'SIGCONT');
    }
  });

  test('holds no descriptor past a read but its program, which stopTracer lets go', async () => {
    const p = await credproc([]);
    await securebitsOf(p.pid, bpf);
    expect(bpfFds()).toHaveLength(1); // the program: no link or iterator left
    expect(fs.readlinkSync(`/proc/self/fd/${bpfFds()[0]}`)).toBe('anon_inode:bpf-prog');
    stopTracer();
    expect(bpfFds()).toEqual([]);
    expect(await securebitsOf(p.pid, bpf)).toEqual([0]); // loaded again
    stopTracer();
  });

  test('a caller without CAP_BPF: bpf rejects with the reason, auto reads over ptrace; so after a drop from root', () => {
    // A root node process reads with BPF, drops to 65534 (every thread: Node's setuid), then asks
    // again: the program it holds must no longer serve it.
    const script = `
      const { spawn } = require('child_process');
      const n = require(${JSON.stringify(ADDON)});
      const sb = (f) => f.nums[7 + 1];
      const fds = () => require('fs').readdirSync('/proc/self/fd').filter((fd) => { try { return /bpf-prog/.test(require('fs').readlinkSync('/proc/self/fd/' + fd)); } catch { return false; } }).length;
      (async () => {
        const out = {};
        const root = spawn('sleep', ['100'], { stdio: 'ignore' });
        await new Promise((r) => setTimeout(r, 100));
        out.root = sb(await n.readLiveTasksFlat([root.pid], { securebitsReader: 'bpf' }));
        out.rootNoTracer = n.helperPids().length === 0;
        process.setgroups([]);
        process.setgid(65534);
        process.setuid(65534);
        const mine = spawn('sleep', ['100'], { stdio: 'ignore' });
        await new Promise((r) => setTimeout(r, 100));
        try {
          await n.readLiveTasksFlat([mine.pid], { securebitsReader: 'bpf' });
          out.bpf = 'read';
        } catch (e) {
          out.bpf = e.code + ': ' + e.message;
        }
        out.heldAfterDrop = fds();
        out.auto = sb(await n.readLiveTasksFlat([mine.pid], { securebitsReader: 'auto' }));
        out.autoTracer = n.helperPids().length === 1;
        n.stopTracer();
        mine.kill('SIGKILL');
        out.target = root.pid; // root's: killed by the test
        console.log(JSON.stringify(out));
        process.exit(0);
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
    process.kill(out.target, 'SIGKILL');
    expect(out.root).toBe(0);
    expect(out.rootNoTracer).toBe(true);
    expect(out.bpf).toMatch(/^ERR_SECUREBITS_READER_UNAVAILABLE: securebits cannot be read with BPF: .*CAP_BPF/);
    expect(out.heldAfterDrop).toBe(0); // let go at the first use without the capabilities
    expect(out.auto).toBe(0);
    expect(out.autoTracer).toBe(true);
  });

  test('root of a user namespace of its own: bpf rejects (its capabilities are not those BPF asks for), auto reads over ptrace', () => {
    // Without the check, capget shows every capability and each checkpoint would try a load the
    // kernel refuses.
    const script = `
      const { spawn } = require('child_process');
      const n = require(${JSON.stringify(ADDON)});
      const target = spawn('sleep', ['100'], { stdio: 'ignore' });
      setTimeout(async () => {
        const out = {};
        out.bpf = await (async () => n.readLiveTasksFlat([target.pid], { securebitsReader: 'bpf' }))().then(() => 'read', (e) => e.code + ': ' + e.message);
        out.auto = (await n.readLiveTasksFlat([target.pid], { securebitsReader: 'auto' })).nums[8];
        out.tracer = n.helperPids().length;
        n.stopTracer();
        target.kill('SIGKILL');
        console.log(JSON.stringify(out));
      }, 100);`;
    const out = JSON.parse(execFileSync('unshare', ['--user', '--map-root-user', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20000 }));
    expect(out.bpf).toMatch(/^ERR_SECUREBITS_READER_UNAVAILABLE: .*user namespace of its own/);
    expect(out.auto).toBe(0);
    expect(out.tracer).toBe(1);
  });

  test("'bpf' where it cannot be used rejects with SecurebitsReaderUnavailableError", () => {
    // A caller that has dropped from root to 65534 (no capability left), through the built
    // library: the addon's error made into the library's typed one. (The library and the addon
    // are loaded first: a clean clone's directory may be root's alone.)
    const script = `
      const { spawn } = require('child_process');
      const { checkpoint } = require(${JSON.stringify(path.join(DIST, 'checkpoint'))});
      require(${JSON.stringify(path.join(DIST, 'native', 'binding'))}).native();
      process.setgroups([]);
      process.setgid(65534);
      process.setuid(65534);
      const target = spawn('sleep', ['100'], { stdio: 'ignore' });
      checkpoint(target.pid, { securebitsReader: 'bpf' }).then(
        () => console.log('read'),
        (e) => console.log(e.name + ' ' + e.code),
      ).finally(() => target.kill('SIGKILL'));`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe(`${SecurebitsReaderUnavailableError.name} ERR_SECUREBITS_READER_UNAVAILABLE`);
  });

  test('the CLI: --securebits-reader picks it, a wrong name is a usage error', async () => {
    const p = await credproc(['--securebits=16']);
    const cli = path.join(DIST, 'cli', 'main.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-bpf-'));
    try {
      for (const reader of ['bpf', 'ptrace', 'auto']) {
        const file = path.join(dir, reader + '.img');
        execFileSync(process.execPath, [cli, 'checkpoint', String(p.pid), '-o', file, '--securebits-reader', reader]);
        const json = JSON.parse(execFileSync(process.execPath, [cli, 'inspect', '--json', file], { encoding: 'utf8' }));
        expect({ reader, securebits: json.tasks[0].cred.securebits }).toEqual({ reader, securebits: 16 });
      }
      const bad = spawnSync(process.execPath, [cli, 'checkpoint', String(p.pid), '-o', path.join(dir, 'x'), '--securebits-reader', 'kernel'], { encoding: 'utf8' });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/securebits-reader/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
