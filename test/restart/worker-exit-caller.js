// Run by worker-exit.test.ts: a restart child spawned inside a worker_thread whose life then
// ends (process.exit in the worker, or terminate() from here); or, end 'main', one spawned on
// the main thread whose loop then runs dry. Plain JS: the addon's path is
// argv[2], the scenario JSON in argv[3] (argv0: the program's); prints what became of the program as JSON.
'use strict';
const fs = require('fs');
const { Worker } = require('worker_threads');

const addon = process.argv[2];
const s = JSON.parse(process.argv[3]);
/** The program's argv[0], by which the test finds one left behind. */
const ARGV0 = s.argv0;

/** 'running', 'zombie' (exited, nobody reaped it) or 'gone' (reaped). */
function state(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z' ? 'zombie' : 'running';
  } catch {
    return 'gone';
  }
}

/** The state once it stops being `from`, or `from` after `ms`. */
async function settle(pid, from, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 10)))
    if (state(pid) !== from) return state(pid);
  return state(pid);
}

if (s.end === 'main') {
  // The main thread's loop runs dry with the watch unref'd: its env ends, the process exits.
  const c = require(addon).spawn({
    files: ['/bin/sleep'], argv: [ARGV0, '30'], envp: [], stdio: ['ignore', 'ignore', 'ignore'], ops: [],
    dieWithParent: s.dieWithParent, onExit() {},
  });
  c.unref();
  process.stdout.write(JSON.stringify({ pid: c.pid }));
  return;
}

const worker = new Worker(
  `const { parentPort, workerData } = require('worker_threads');
   const c = require(workerData.addon).spawn({
     files: ['/bin/sleep'], argv: [workerData.argv0, '30'], envp: [], stdio: ['ignore', 'ignore', 'ignore'], ops: [],
     dieWithParent: workerData.dieWithParent, onExit() {},
   });
   parentPort.postMessage(c.pid);
   if (workerData.end === 'exit') setTimeout(() => process.exit(0), 100);`,
  { eval: true, workerData: { addon, argv0: ARGV0, ...s } },
);
let pid = 0;
worker.on('message', (p) => {
  pid = p;
  if (s.end === 'terminate') setTimeout(() => worker.terminate(), 100);
});
worker.on('exit', async () => {
  let after = await settle(pid, 'running', s.dieWithParent ? 5000 : 300);
  if (after === 'zombie') after = await settle(pid, 'zombie', 5000);
  const out = { pid, afterWorker: after };
  if (after === 'running') {
    // Let go: still this process's child, and nobody but the addon's reaper waits for it.
    process.kill(pid, 'SIGKILL');
    out.afterKill = await settle(pid, 'running', 5000);
    if (out.afterKill === 'zombie') out.afterKill = await settle(pid, 'zombie', 5000);
  }
  process.stdout.write(JSON.stringify(out));
});
