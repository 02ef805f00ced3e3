// Which way the creds are put on in the child: the restore plan's ops (the usual way), or
// sys_restart itself, on a kernel of the linux-cr series that wrote this very image (or its
// stand-in, for tests). On the sys_restart ways carryCaps still raises ambient by ops after it.
import * as os from 'os';
import { CAP, capNames } from '../model';
import type { Image } from '../format';
import { LINUX_CR_SYSCALLS_ENV, LinuxCrSyscallsUnknown, linuxCrEraOf, linuxCrSyscallsHere } from '../native/linux-cr-syscalls';
import { native, type NativeRestartOp } from '../native/binding';
import { RestartUnsupported } from './errors';
import type { RestartOptions, RestartTestHooks } from './options';

export type PathKind = 'ops' | 'linux-cr' | 'linux-cr-stand-in';

/** The path and the ops the child runs on it (`ops`: the plan's, with the map helpers named). */
export function choosePath(image: Image, ops: NativeRestartOp[], extraAmbient: bigint, opts: RestartOptions & RestartTestHooks):
  { path: PathKind; ops: NativeRestartOp[]; sysRestartNr: number | undefined } {
  let sysRestartNr: number | undefined;
  let path: PathKind = 'ops';
  if (opts.linuxCrStandIn) {
    path = 'linux-cr-stand-in';
    ops = [{ op: 'sys_restart' }];
  } else if (fromThisLinuxCrKernel(image, opts.sysRestartNr)) {
    path = 'linux-cr';
    ops = [{ op: 'sys_restart' }];
    sysRestartNr = sysRestartNrHere(opts.sysRestartNr);
  }
  if (path !== 'ops' && extraAmbient !== 0n)
    ops = [...ops, ...capNames(extraAmbient).map((n) => ({ op: 'ambient_raise' as const, cap: CAP[n.slice(4)] }))];
  return { path, ops, sysRestartNr };
}

/** sys_restart's number on this kernel (which has it): the option, else env, else the table. */
function sysRestartNrHere(option: number | undefined): number {
  try {
    if (option !== undefined) {
      // The override still may not name a number kallsyms shows is another syscall.
      return linuxCrSyscallsHere({ checkpoint: option, restart: option }).restart;
    }
    return linuxCrSyscallsHere().restart;
  } catch (e) {
    if (e instanceof LinuxCrSyscallsUnknown) throw new RestartUnsupported(`the kernel has sys_restart, but its number is not known: ${e.message}`);
    throw e;
  }
}

/**
 * sys_restart only takes images that this very kernel's sys_checkpoint wrote. The cheap checks
 * first: the uts strings, then whether a number could be known at all (an override, or a
 * release of the series' eras); only then the kallsyms scan (a tenth of a second, once).
 */
function fromThisLinuxCrKernel(image: Image, sysRestartNr: number | undefined): boolean {
  if (image.header.uts.release !== os.release() || image.header.uts.version !== os.version()) return false;
  if (sysRestartNr === undefined && !process.env[LINUX_CR_SYSCALLS_ENV] && !linuxCrEraOf(process.arch, os.release())) return false;
  return native().linuxCrAvailable();
}
