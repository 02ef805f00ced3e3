// What a process manager holds of a process, as checkpoint() takes it: a pid, a child it started
// (a ChildProcess, or a restart handle), or a pidfd. A child or a pidfd is pid-reuse safe: it is
// checked again once the creds have been read, so that a pid freed and given to another process
// during the read is never taken for the one asked for.
import * as fs from 'fs';
import { native } from '../native/binding';
import { ProcessGoneError } from './errors';

/** A started child: ChildProcess, or the handle restart() returns. */
export interface ChildLike {
  readonly pid?: number;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | string | null;
}

/** A pidfd (pidfd_open, clone(CLONE_PIDFD)) the caller holds and keeps open during the call. */
export interface PidfdTarget {
  pidfd: number;
}

export type CheckpointTarget = number | ChildLike | PidfdTarget;

/** One target: its pid now, and the check that it is still the same process afterwards. */
export interface ResolvedTarget {
  pid: number;
  /** Throws ProcessGoneError when the process the target named has gone. */
  stillThere(): void;
}

function gone(pid: number, what: string): ProcessGoneError {
  return new ProcessGoneError(`process ${pid} (${what}) exited during the checkpoint`, 'ESRCH', pid);
}

/** The pid a pidfd refers to, from /proc/self/fdinfo (Pid: -1 once it has exited). */
function pidOfPidfd(fd: number): number {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    throw new TypeError(`checkpoint: fd ${fd} is not open`);
  }
  const m = /^Pid:\s*(-?\d+)$/m.exec(text);
  if (!m) throw new TypeError(`checkpoint: fd ${fd} is not a pidfd`);
  const pid = Number(m[1]);
  if (pid <= 0) throw new ProcessGoneError(`the process of pidfd ${fd} has exited${pid === 0 ? ' (or is outside our pid namespace)' : ''}`, 'ESRCH');
  return pid;
}

export function resolveTarget(t: CheckpointTarget): ResolvedTarget {
  if (typeof t === 'number') {
    if (!Number.isInteger(t) || t <= 0) throw new TypeError(`checkpoint: not a pid: ${t}`);
    return { pid: t, stillThere: () => undefined };
  }
  if (t && typeof t === 'object' && 'pidfd' in t) {
    const fd = t.pidfd;
    if (!Number.isInteger(fd) || fd < 0) throw new TypeError(`checkpoint: not a pidfd: ${fd}`);
    const pid = pidOfPidfd(fd);
    return {
      pid,
      stillThere: () => {
        if (!native().pidfdSendSignal(fd, 0)) throw gone(pid, `pidfd ${fd}`);
      },
    };
  }
  if (t && typeof t === 'object' && 'exitCode' in t) {
    const c = t;
    if (typeof c.pid !== 'number') throw new TypeError('checkpoint: the child process was never started (no pid)');
    const pid = c.pid;
    const exited = () => c.exitCode !== null || c.signalCode !== null;
    // Until its parent (this process) has reaped it, and told JS so, a child's pid is not reused.
    if (exited()) throw new ProcessGoneError(`process ${pid} (a child of ours) has already exited`, 'ESRCH', pid);
    return {
      pid,
      stillThere: () => {
        if (exited()) throw gone(pid, 'a child of ours');
      },
    };
  }
  throw new TypeError('checkpoint: expected a pid, a ChildProcess (or restart handle), or { pidfd }');
}
