// Library and system errors in the CLI's one message style: "cr-creds: WHAT: WHY". A vanished
// process is said one way ("process N: no such process"); a refused read of another process
// says what the kernel's ptrace access check had to refuse it for.
import * as fs from 'fs';
import { capNames } from '../model/capabilities';
import { isZombie, zombieMessage } from '../checkpoint/live';

interface SystemErrorShape {
  message: string;
  code?: string;
  pid?: number;
  syscall?: string;
  path?: string;
}

function statusField(pid: number | 'self', name: string): string | null {
  try {
    const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? m[1].trim() : null;
  } catch {
    return null;
  }
}

/** Why the kernel's ptrace access check (PTRACE_MODE_READ) may refuse us process `pid`. */
export function whyDenied(pid: number): string {
  const reasons: string[] = [];
  const theirs = statusField(pid, 'CapPrm');
  const ours = statusField('self', 'CapPrm');
  const ourEff = statusField('self', 'CapEff');
  const hasPtrace = ourEff !== null && ((BigInt(`0x${ourEff}`) >> 19n) & 1n) === 1n;
  if (theirs !== null && ours !== null) {
    const extra = BigInt(`0x${theirs}`) & ~BigInt(`0x${ours}`);
    if (extra) {
      reasons.push(`it holds ${capNames(extra).join(', ')}, which cr-creds lacks (a reader needs every permitted capability of the target${hasPtrace ? ', or CAP_SYS_PTRACE in its user namespace and no security module refusing it' : ', or CAP_SYS_PTRACE'})`);
    }
  }
  const theirUid = statusField(pid, 'Uid')?.split(/\s+/)[0];
  const ourUid = statusField('self', 'Uid')?.split(/\s+/)[0];
  if (theirUid !== undefined && ourUid !== undefined && theirUid !== ourUid && !hasPtrace)
    reasons.push(`it runs as uid ${theirUid} and cr-creds as uid ${ourUid} without CAP_SYS_PTRACE`);
  try {
    const scope = fs.readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim();
    if (scope !== '0') reasons.push(`Yama's ptrace_scope is ${scope}`);
  } catch {
    // no Yama
  }
  if (reasons.length === 0) reasons.push('a security module, or a process that is not dumpable');
  return `the kernel's ptrace access check refused: ${reasons.join('; ')}`;
}

/** The message for a typed library error or a system error, or null when it is neither (a bug). */
export function messageOf(e: unknown): string | null {
  const err = e as Error & SystemErrorShape;
  if (!err || typeof err.message !== 'string') return null;
  if (err.code === 'ESRCH' && typeof err.pid === 'number' && err.pid > 0) return isZombie(err.pid) ? zombieMessage(err.pid) : `process ${err.pid}: no such process`;
  if ((err.code === 'EACCES' || err.code === 'EPERM') && typeof err.pid === 'number' && err.pid > 0 && err.syscall)
    return `process ${err.pid}: permission denied (${err.syscall}): ${whyDenied(err.pid)}`;
  if (err.code || err.name !== 'Error') return err.message;
  return null;
}
