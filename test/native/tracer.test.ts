// The tracer (native/vm_child.cc): one helper process that reads securebits over ptrace, kept
// between checkpoints. It must hold none of our descriptors, never outlive a change of our
// credentials, be replaced if killed, leave no task traced, stay out of our tree walks, and go
// with us. Needs root (CI runs as root): the credential-change case drops to uid 65534.
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { checkpoint, processTree, stopTracer } from '../../lib/checkpoint';
import { native } from '../../lib/native/binding';
import { credproc, expectUntraced, killAll, procStatus } from '../checkpoint/helpers/procs';

afterAll(() => {
  killAll();
  stopTracer();
});

const ADDON = path.join(__dirname, '..', '..', 'build', 'Release', 'cr_creds.node');
const exists = (pid: number) => fs.existsSync(`/proc/${pid}`);
const state = (pid: number) => (exists(pid) ? procStatus(pid).State[0] : 'gone');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tracerPid(): number {
  const pids = native().helperPids();
  expect(pids).toHaveLength(1);
  return pids[0];
}

describe('the tracer', () => {
  test('is kept between checkpoints, holds none of our descriptors, and is reaped when stopped', async () => {
    stopTracer();
    const p = await credproc(['--securebits=16']);
    await checkpoint(p.pid);
    const tracer = tracerPid();
    expect(fs.readFileSync(`/proc/${tracer}/comm`, 'utf8')).toBe('cr-creds-trace\n');
    expect(procStatus(tracer).PPid).toBe(String(process.pid));
    // A pipe end held there would keep a reader from seeing EOF.
    expect(fs.readdirSync(`/proc/${tracer}/fd`)).toEqual([]);
    expect((await checkpoint(p.pid)).tasks[0].cred.securebits).toBe(16);
    expect(tracerPid()).toBe(tracer);
    expect(stopTracer()).toBe(true);
    expect(exists(tracer)).toBe(false); // exited and reaped: no zombie
    expect(native().helperPids()).toEqual([]);
    expect((await checkpoint(p.pid)).tasks[0].cred.securebits).toBe(16); // a new one
    expect(tracerPid()).not.toBe(tracer);
  });

  test('killed while it holds a task: the read fails (EIO), the task runs untraced, a new tracer takes over', async () => {
    const p = await credproc([]);
    const pending = native().readSecurebits(p.pid, [p.pid], { testDelayMs: 400 });
    await sleep(100);
    const tracer = tracerPid();
    expect(procStatus(p.pid).TracerPid).toBe(String(tracer));
    process.kill(tracer, 'SIGKILL');
    await expect(pending).rejects.toMatchObject({ code: 'EIO', syscall: 'ptrace helper' });
    // The kernel lets go of its tracees as the tracer's exit completes, a moment after it let go
    // of our memory (which is what the waiter sees).
    for (let i = 0; i < 50 && procStatus(p.pid).TracerPid !== '0'; i++) await sleep(10);
    expectUntraced(p.pid);
    expect(await native().readSecurebits(p.pid)).toEqual([0]);
    expect(tracerPid()).not.toBe(tracer);
    expect(exists(tracer)).toBe(false); // the dead one reaped when the new one started
  });

  test('is not part of our process tree', async () => {
    const p = await credproc([]);
    await checkpoint(p.pid);
    const tracer = tracerPid();
    const tree = (await processTree(process.pid)).map((t) => t.pid);
    expect(tree).toContain(p.pid);
    expect(tree).not.toContain(tracer);
  });

  test('never outlives a change of our credentials: after setuid(65534), a root task cannot be traced', () => {
    // A root node process reads a root child's securebits, drops to 65534 (every thread: Node's
    // setuid), then tries again: the tracer started as root must not serve it.
    const script = `
      const { spawn } = require('child_process');
      const n = require(${JSON.stringify(ADDON)});
      const target = spawn('sleep', ['100'], { stdio: 'ignore' });
      (async () => {
        await new Promise((r) => setTimeout(r, 100));
        const out = {};
        out.before = await n.readSecurebits(target.pid);
        out.rootTracer = n.helperPids();
        process.setgroups([]);
        process.setgid(65534);
        process.setuid(65534);
        try {
          out.after = await n.readSecurebits(target.pid);
        } catch (e) {
          out.after = e.code + ' ' + e.syscall;
        }
        out.current = n.helperPids()[0]; // the current tracer first, then any still exiting
        n.stopTracer();
        out.rootTracerGone = !require('fs').existsSync('/proc/' + out.rootTracer[0]);
        out.uid = process.getuid();
        out.target = target.pid; // ours to kill: root's now
        console.log(JSON.stringify(out));
        process.exit(0);
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
    process.kill(out.target, 'SIGKILL');
    expect(out.uid).toBe(65534);
    expect(out.before).toEqual([0]);
    expect(out.rootTracer).toHaveLength(1);
    expect(out.after).toBe('EPERM ptrace(PTRACE_SEIZE)');
    expect(out.current).not.toBe(out.rootTracer[0]);
    expect(out.rootTracerGone).toBe(true);
  });

  test('goes with us: a process that checkpointed and exited leaves no tracer running', async () => {
    const script = `
      const { spawn } = require('child_process');
      const n = require(${JSON.stringify(ADDON)});
      const target = spawn('sleep', ['100'], { stdio: 'ignore' });
      setTimeout(async () => {
        await n.readLiveTasksFlat([target.pid], { threads: false, unknownSecurebits: 'fail' });
        console.log(JSON.stringify(n.helperPids()));
        target.kill('SIGKILL');
        process.exit(0);
      }, 100);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    await new Promise((r) => child.on('close', r));
    const [tracer] = JSON.parse(text) as number[];
    expect(tracer).toBeGreaterThan(0);
    // Killed with its creator (PR_SET_PDEATHSIG), then reaped by whoever inherited it.
    for (let i = 0; i < 100 && state(tracer) !== 'gone' && state(tracer) !== 'Z'; i++) await sleep(20);
    expect(['gone', 'Z']).toContain(state(tracer));
  });
});
