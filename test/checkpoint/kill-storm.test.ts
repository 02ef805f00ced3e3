// Whatever is killed when, a checkpoint never harms the processes it reads: SIGKILL, SIGTERM and
// SIGINT to the CLI, to its ptrace helper (cr-creds-trace) and to the CLI's whole process group,
// at random moments, across many checkpoints of live targets (single processes, a threaded one,
// one taking signals all the while, and --tree). The targets (helpers/stormproc.c) check themselves all the while: a syscall
// answered wrongly or a register changed under them makes them exit. At the end every target
// must be alive, running (not stopped) and untraced. Needs root (CI runs as root).
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { procStatus } from './helpers/procs';

// CR_CREDS_STORM_ROOT: another build of the package to storm (an older design, say).
const ROOT = process.env.CR_CREDS_STORM_ROOT || path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const SIGNALS: NodeJS.Signals[] = ['SIGKILL', 'SIGTERM', 'SIGINT'];

// The ptrace reader is stormed (with BPF, which the library uses as root, no target is stopped):
// every process started here is told so (an older build, CR_CREDS_STORM_ROOT, ignores it).
const env = { ...process.env, CR_CREDS_SECUREBITS_READER: 'ptrace' };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-storm-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exists = (pid: number) => fs.existsSync(`/proc/${pid}`);
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)];

function buildStormproc(): string {
  const out = path.join(dir, 'stormproc');
  const r = spawnSync('cc', ['-O1', '-Wall', '-pthread', '-o', out, path.join(__dirname, 'helpers', 'stormproc.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc stormproc.c: ${r.stderr}`);
  return out;
}

interface Target {
  pid: number;
  child: ChildProcess;
  ended?: string; // how it ended, if it did
  stderr: string;
}

function startTarget(bin: string, args: string[]): Promise<Target> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const t: Target = { pid: 0, child, stderr: '' };
  child.stderr!.on('data', (d) => (t.stderr += d));
  child.on('exit', (code, signal) => (t.ended = signal ?? `exit ${code}`));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /ready (\d+)/.exec(out);
      if (m) {
        t.pid = Number(m[1]);
        resolve(t);
      }
    });
    child.on('error', reject);
  });
}

/** Children of pid (every thread's). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

const comm = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** The cr-creds-trace helpers among pid's children. */
const helpersOf = (pid: number) => childrenOf(pid).filter((c) => comm(c) === 'cr-creds-trace');

/** Waits until none of pids is a live process (zombies and the reaped count as gone). */
async function waitGone(pids: number[], ms = 3000): Promise<void> {
  const t0 = Date.now();
  const live = (pid: number) => exists(pid) && !/^[ZX]/.test(procStatus(pid).State ?? 'X');
  while (pids.some((p) => {
    try {
      return live(p);
    } catch {
      return false;
    }
  }) && Date.now() - t0 < ms)
    await sleep(10);
}

/** Every task of the targets (threads and --tree children too): [pid, status]. */
function allTasks(targets: Target[]): number[] {
  const tids: number[] = [];
  const walk = (pid: number) => {
    try {
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) tids.push(Number(tid));
    } catch {
      return;
    }
    for (const c of childrenOf(pid)) walk(c);
  };
  for (const t of targets) walk(t.pid);
  return tids;
}

test('kill storm: no target killed, left stopped or left traced', async () => {
  const bin = buildStormproc();
  const single = await startTarget(bin, []);
  const threaded = await startTarget(bin, ['--threads']);
  const tree = await startTarget(bin, ['--threads', '--children=12']);
  const signalled = await startTarget(bin, ['--threads', '--signals']);
  const targets = [single, threaded, tree, signalled];
  let runs = 0;
  let holding = 0; // helper kills that came while it held a target
  const counts: Record<string, number> = {};
  const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
  try {
    // 1. A process that checkpoints without pause, its helper killed again and again mid-work.
    const driver = spawn(
      process.execPath,
      [
        '-e',
        `const { checkpoint, checkpointTree } = require(${JSON.stringify(path.join(ROOT, 'dist', 'checkpoint'))});
         const pids = ${JSON.stringify([single.pid, threaded.pid, signalled.pid])};
         let n = 0;
         (async () => {
           for (;;) {
             await (n++ % 3 === 2 ? checkpointTree(${tree.pid}) : checkpoint(pids, { threads: n % 2 === 0 })).catch(() => {});
           }
         })();`,
      ],
      { stdio: 'ignore', env },
    );
    const until = Date.now() + 12000;
    while (Date.now() < until) {
      await sleep(Math.random() * 30);
      const [helper] = helpersOf(driver.pid!);
      if (!helper) continue;
      const sig = pick(SIGNALS);
      const held = allTasks(targets).some((tid) => {
        try {
          return procStatus(tid).TracerPid === String(helper);
        } catch {
          return false;
        }
      });
      try {
        process.kill(helper, sig);
        runs++;
        if (held) holding++;
        count(`helper ${sig}`);
      } catch {
        // just ended
      }
    }
    const last = helpersOf(driver.pid!);
    driver.kill('SIGKILL');
    await waitGone([driver.pid!, ...last]);

    // 2. The CLI, a checkpoint per run, killed at a random moment: itself, its helper, or its
    // whole process group (it leads one: detached).
    const clis = Date.now() + 30000;
    for (let i = 0; i < 60 && Date.now() < clis; i++) {
      const tree1 = i % 2 === 0;
      const args = tree1 ? ['checkpoint', '--tree', String(tree.pid)] : ['checkpoint', '--threads', String(single.pid), String(threaded.pid), String(signalled.pid)];
      const cli = spawn(process.execPath, [CLI, ...args, '-o', path.join(dir, `run${i}.img`)], { stdio: 'ignore', detached: true, env });
      const whom = pick(['cli', 'helper', 'group']);
      const sig = pick(SIGNALS);
      const deadline = Date.now() + 150 + Math.random() * 400;
      let helpers: number[] = [];
      while (Date.now() < deadline && cli.exitCode === null && cli.signalCode === null) {
        const h = helpersOf(cli.pid!);
        if (h.length) helpers = h;
        if (whom === 'helper' && h.length && Math.random() < 0.3) break;
        await sleep(1 + Math.random() * 5);
      }
      try {
        if (whom === 'cli') process.kill(cli.pid!, sig);
        else if (whom === 'group') process.kill(-cli.pid!, sig);
        else if (helpers.length) process.kill(helpers[0], sig);
        else process.kill(cli.pid!, sig);
      } catch {
        // ended already
      }
      runs++;
      count(`${whom} ${sig}`);
      await new Promise<void>((r) => (cli.exitCode !== null || cli.signalCode !== null ? r() : cli.once('exit', () => r())));
      // Its helper ends once it has let go of what it held and sees the CLI gone.
      await waitGone(helpers);
    }
  } finally {
    // The verdict, over every task of every target. A helper killed last may still be letting
    // go (its exit detaches what it held): looked at again for up to 10 s, for a loaded machine;
    // a task left stopped or traced stays so, and is still seen.
    const status = (tid: number) => {
      try {
        return procStatus(tid);
      } catch {
        return {} as Record<string, string>; // ended meanwhile: a target's end is counted above
      }
    };
    let tasks: number[] = [];
    let stopped: number[] = [];
    let traced: number[] = [];
    const settledAt = Date.now() + 10000;
    for (;;) {
      tasks = allTasks(targets.filter((t) => t.ended === undefined));
      stopped = tasks.filter((tid) => /^[Tt]/.test(status(tid).State ?? ''));
      traced = tasks.filter((tid) => (status(tid).TracerPid ?? '0') !== '0');
      if ((stopped.length === 0 && traced.length === 0) || Date.now() >= settledAt) break;
      await sleep(20);
    }
    const killed = targets.filter((t) => t.ended !== undefined);
    console.log(
      `kill storm: ${runs} runs, ${holding} while the helper held a target (${Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}); ${tasks.length} tasks checked: ${killed.length} targets killed, ${stopped.length} stopped, ${traced.length} traced`,
    );
    const everything = allTasks(targets);
    for (const t of targets) t.child.kill('SIGKILL');
    for (const tid of everything) {
      try {
        process.kill(tid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    expect(killed.map((t) => `${t.pid} ${t.ended} ${t.stderr}`)).toEqual([]);
    expect(stopped).toEqual([]);
    expect(traced).toEqual([]);
    expect(tasks.length).toBeGreaterThanOrEqual(1 + 4 + 4 + 12 + 4);
    expect(runs).toBeGreaterThan(100);
    expect(holding).toBeGreaterThan(0); // some kills did come in the middle of an injection
  }
}, 90000);
