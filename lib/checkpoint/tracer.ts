// The tracer (native/tracer.h: the helper process, cr-creds-trace, a fork of ours that reads
// securebits over ptrace) is kept between checkpoints, since starting a process for each costs
// more than the ptrace work itself. It goes once checkpoints stop coming: IDLE_MS after the last
// one (its memory, a copy-on-write copy of ours, goes with it), or when stopTracer is called.
// The BPF reader's program (native/securebits_bpf.h), which costs no process, stays loaded
// till stopTracer is called or the process ends: a service that checkpoints every few seconds
// loads it once.
import { native } from '../native/binding';

const IDLE_MS = 2000;

let timer: NodeJS.Timeout | undefined;

function onIdle(): void {
  if (native().stopTracer(false)) timer = undefined;
  else timer?.refresh(); // busy (another thread's checkpoint): look again later
}

/** Called after each use of the tracer: puts off its end. The timer never keeps Node alive. */
export function tracerUsed(): void {
  if (timer) {
    timer.refresh();
    return;
  }
  timer = setTimeout(onIdle, IDLE_MS);
  timer.unref();
}

/**
 * Ends the tracer now if it has nothing to do (a later checkpoint starts a new one), and lets the
 * BPF reader's program go (a later checkpoint loads it again); false if a checkpoint is using the
 * tracer.
 */
export function stopTracer(): boolean {
  const stopped = native().stopTracer();
  if (stopped && timer) {
    clearTimeout(timer);
    timer = undefined;
  }
  return stopped;
}
