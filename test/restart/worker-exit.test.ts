// The exit watch of a restart child lives in the loop of the JS thread that spawned it. When
// that thread's environment ends (a worker_thread exits or is terminated; the main thread's
// loop runs dry) the watch is closed by its cleanup hook: a Worker's end no longer aborts the
// whole process on a loop closed with the poll open. The program then follows the spawn
// options: dieWithParent kills it with the thread; otherwise it runs on, reaped by the addon
// once it exits (never left a zombie). Each case runs in a child node (worker-exit-caller.js).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ADDON = path.join(__dirname, '..', '..', 'build', 'Release', 'cr_creds.node');
const CALLER = path.join(__dirname, 'worker-exit-caller.js');
// Unique to this run: sessions running the suite at once never touch each other's programs.
const ARGV0 = `cr-creds-worker-exit-sleep-${process.pid}`;

interface Outcome {
  pid: number;
  afterWorker?: 'running' | 'zombie' | 'gone';
  afterKill?: 'running' | 'zombie' | 'gone';
}

function run(scenario: { end: 'exit' | 'terminate' | 'main'; dieWithParent: boolean }): Outcome {
  const r = spawnSync(process.execPath, [CALLER, ADDON, JSON.stringify({ ...scenario, argv0: ARGV0 })], { encoding: 'utf8', timeout: 60000 });
  // 134: the abort of a worker loop closed with an open handle.
  expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  return JSON.parse(r.stdout) as Outcome;
}

/** Pids of programs a case left running (argv[0] marks them). */
function leftOver(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'latin1').startsWith(ARGV0 + '\0')) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

afterEach(() => {
  for (const pid of leftOver()) process.kill(pid, 'SIGKILL');
});

describe('a restart child spawned in a worker_thread', () => {
  test.each(['exit', 'terminate'] as const)('the worker ending (%s) leaves the process running; the program runs on, and is reaped when it exits', (end) => {
    expect(run({ end, dieWithParent: false })).toEqual({ pid: expect.any(Number), afterWorker: 'running', afterKill: 'gone' });
  }, 60000);

  test.each(['exit', 'terminate'] as const)('with dieWithParent, the worker ending (%s) kills the program and reaps it', (end) => {
    expect(run({ end, dieWithParent: true })).toEqual({ pid: expect.any(Number), afterWorker: 'gone' });
  }, 60000);
});

test('the main thread ending with the watch unref\'d exits cleanly and lets the program run on', () => {
  const { pid } = run({ end: 'main', dieWithParent: false });
  expect(leftOver()).toContain(pid);
}, 60000);

// The exit listener is called through napi_make_callback: a throw in it is the program's
// uncaught exception, in the main thread as in a worker (its 'error'), never dropped.
describe('a throwing exit listener', () => {
  const spawnThrowing =
    `require(${JSON.stringify(ADDON)}).spawn({ files: ['/bin/true'], argv: ['true'], envp: [], ` +
    `stdio: ['ignore', 'ignore', 'ignore'], ops: [], onExit() { throw new Error('listener threw'); } });`;

  test('is an uncaught exception of the main thread', () => {
    const r = spawnSync(process.execPath, ['-e', spawnThrowing], { encoding: 'utf8', timeout: 60000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Error: listener threw');
  }, 60000);

  test("is the worker's error, the process going on", () => {
    const main =
      `const w = new (require('worker_threads').Worker)(${JSON.stringify(spawnThrowing)}, { eval: true });` +
      `w.on('error', (e) => console.log('worker error:', e.message));` +
      `w.on('exit', (c) => console.log('worker exit:', c));`;
    const r = spawnSync(process.execPath, ['-e', main], { encoding: 'utf8', timeout: 60000 });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'worker error: listener threw\nworker exit: 1\n' });
  }, 60000);
});
