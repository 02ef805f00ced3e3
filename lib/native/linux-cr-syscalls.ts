// Which numbers sys_checkpoint and sys_restart have on the running kernel. The linux-cr series
// was never merged: it took the next free numbers of each base kernel it was ported to, and
// mainline later gave every one of them to another syscall. So the number is chosen from the
// kernel's release (its base), checked against /proc/kallsyms (the mainline syscall that later
// took the number must be absent), and an explicit override wins. When nothing fits, we refuse:
// a wrong guess would run an unrelated syscall. Nothing here issues a syscall; the addon still
// refuses any number unless /proc/kallsyms shows sys_checkpoint / sys_restart.
import * as fs from 'fs';
import * as os from 'os';

export interface LinuxCrSyscalls {
  checkpoint: number;
  restart: number;
  /** Where the numbers came from: an era of the table, or 'override'. */
  source: string;
}

export type LinuxCrArch = 'x64' | 'ia32';

export interface LinuxCrEra {
  arch: LinuxCrArch;
  /** The series' era (its user-space headers). */
  era: string;
  /** Base kernels, [first, last] as [major, minor, patch]. */
  bases: readonly [readonly [number, number, number], readonly [number, number, number]];
  checkpoint: number;
  restart: number;
  /** The mainline syscalls that later took these numbers (checkpoint's, restart's). */
  takenBy: readonly [string, string];
  /** Where the numbers and the base range come from. */
  source: string;
}

/**
 * The table. Numbers: the series' user-space headers as the reference page gives them (x86-64
 * 301/302 in the v21 era with eclone 300; 304/305 at ckpt-v23-rc2; 313/314 in the last headers;
 * i386 339/340, 342/343, 348/349). Base ranges: the releases in which mainline had not yet taken
 * the numbers (arch/x86/entry/syscalls/syscall_{64,32}.tbl: fanotify_mark and prlimit64 came in
 * 2.6.36, open_by_handle_at and clock_adjtime in 2.6.39, process_vm_writev in 3.2, kcmp in 3.5,
 * finit_module in 3.8), starting with each era's own base.
 */
export const LINUX_CR_ERAS: readonly LinuxCrEra[] = [
  { arch: 'x64', era: 'v21 (2010)', bases: [[2, 6, 33], [2, 6, 35]], checkpoint: 301, restart: 302, takenBy: ['fanotify_mark', 'prlimit64'], source: 'user-cr headers of the v21 era (eclone 300)' },
  { arch: 'x64', era: 'ckpt-v23-rc2 (2011)', bases: [[2, 6, 36], [2, 6, 38]], checkpoint: 304, restart: 305, takenBy: ['open_by_handle_at', 'clock_adjtime'], source: 'user-cr headers at ckpt-v23-rc2' },
  { arch: 'x64', era: 'last headers (2012)', bases: [[2, 6, 39], [3, 7, 999]], checkpoint: 313, restart: 314, takenBy: ['finit_module', 'sched_setattr'], source: 'the last user-cr headers' },
  { arch: 'ia32', era: 'v21 (2010)', bases: [[2, 6, 33], [2, 6, 35]], checkpoint: 339, restart: 340, takenBy: ['fanotify_mark', 'prlimit64'], source: 'user-cr headers of the v21 era' },
  { arch: 'ia32', era: 'ckpt-v23-rc2 (2011)', bases: [[2, 6, 36], [2, 6, 38]], checkpoint: 342, restart: 343, takenBy: ['open_by_handle_at', 'clock_adjtime'], source: 'user-cr headers at ckpt-v23-rc2' },
  { arch: 'ia32', era: 'last headers (2012)', bases: [[2, 6, 39], [3, 1, 999]], checkpoint: 348, restart: 349, takenBy: ['process_vm_writev', 'kcmp'], source: 'the last user-cr headers' },
];

/** Environment variable of the override: "CHECKPOINT,RESTART", e.g. "301,302". */
export const LINUX_CR_SYSCALLS_ENV = 'CR_CREDS_LINUX_CR_SYSCALLS';

export class LinuxCrSyscallsUnknown extends Error {
  override name = 'LinuxCrSyscallsUnknown';
  readonly code = 'ERR_LINUX_CR_SYSCALLS_UNKNOWN';
}

/** "301,302" -> { checkpoint: 301, restart: 302 }; throws on anything else. */
export function parseLinuxCrSyscalls(text: string, from = LINUX_CR_SYSCALLS_ENV): { checkpoint: number; restart: number } {
  const m = /^\s*([1-9]\d{0,3})\s*,\s*([1-9]\d{0,3})\s*$/.exec(text);
  if (!m) throw new LinuxCrSyscallsUnknown(`${from}: '${text}' is not CHECKPOINT,RESTART (two syscall numbers, e.g. 301,302)`);
  return { checkpoint: Number(m[1]), restart: Number(m[2]) };
}

function releaseBase(release: string): [number, number, number] | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

function cmp(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Whether kallsyms names a syscall (sys_NAME, or an arch wrapper such as __x64_sys_NAME). */
export function hasSyscallSymbol(symbols: ReadonlySet<string>, name: string): boolean {
  return symbols.has(`sys_${name}`) || symbols.has(`__x64_sys_${name}`) || symbols.has(`__ia32_sys_${name}`) || symbols.has(`__se_sys_${name}`);
}

/** The table's row for a kernel of this arch and release, if any. */
export function linuxCrEraOf(arch: string, release: string): LinuxCrEra | undefined {
  const base = releaseBase(release);
  return base ? LINUX_CR_ERAS.find((e) => e.arch === arch && cmp(base, e.bases[0]) >= 0 && cmp(base, e.bases[1]) <= 0) : undefined;
}

export interface ChooseInput {
  /** process.arch. */
  arch: string;
  /** os.release(). */
  release: string;
  /** Function names of /proc/kallsyms. */
  symbols: ReadonlySet<string>;
  /** An explicit choice (API option, or the environment variable): wins over the table. */
  override?: { checkpoint: number; restart: number };
}

/**
 * The numbers for this kernel, or LinuxCrSyscallsUnknown saying why none can be trusted. The
 * override is still refused when kallsyms shows that its numbers belong to mainline syscalls.
 */
export function chooseLinuxCrSyscalls(input: ChooseInput): LinuxCrSyscalls {
  const eras = LINUX_CR_ERAS.filter((e) => e.arch === input.arch);
  const takenNow = (nr: number): string | undefined => {
    for (const e of eras) {
      if (e.checkpoint === nr && hasSyscallSymbol(input.symbols, e.takenBy[0])) return e.takenBy[0];
      if (e.restart === nr && hasSyscallSymbol(input.symbols, e.takenBy[1])) return e.takenBy[1];
    }
    return undefined;
  };
  if (input.override) {
    const { checkpoint, restart } = input.override;
    for (const nr of [checkpoint, restart]) {
      const other = takenNow(nr);
      if (other) throw new LinuxCrSyscallsUnknown(`the override's syscall ${nr} is ${other} on this kernel (/proc/kallsyms has it)`);
    }
    return { checkpoint, restart, source: 'override' };
  }
  if (eras.length === 0)
    throw new LinuxCrSyscallsUnknown(`no linux-cr syscall numbers are known for ${input.arch}; give them (${LINUX_CR_SYSCALLS_ENV}=CHECKPOINT,RESTART)`);
  const era = linuxCrEraOf(input.arch, input.release);
  if (!era)
    throw new LinuxCrSyscallsUnknown(
      `kernel release '${input.release}' is outside every base the series' numbers are known for; give them (${LINUX_CR_SYSCALLS_ENV}=CHECKPOINT,RESTART)`,
    );
  for (const nr of [era.checkpoint, era.restart]) {
    const other = takenNow(nr);
    if (other)
      throw new LinuxCrSyscallsUnknown(`release '${input.release}' suggests ${era.era} numbers, but syscall ${nr} is ${other} here (/proc/kallsyms has it); give them (${LINUX_CR_SYSCALLS_ENV}=CHECKPOINT,RESTART)`);
  }
  return { checkpoint: era.checkpoint, restart: era.restart, source: `${era.era}: ${era.source}` };
}

/** The function names of /proc/kallsyms ("ADDR TYPE NAME [module]" lines). */
export function kallsymsNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const parts = line.split(/\s+/);
    if (parts.length >= 3) out.add(parts[2]);
  }
  return out;
}

/**
 * The numbers for the running kernel: `override`, else the environment variable, else the
 * table. Reads /proc/kallsyms: call it only once the addon has shown the kernel has linux-cr.
 */
export function linuxCrSyscallsHere(override?: { checkpoint: number; restart: number }, env: NodeJS.ProcessEnv = process.env): LinuxCrSyscalls {
  const fromEnv = env[LINUX_CR_SYSCALLS_ENV];
  const chosen = override ?? (fromEnv !== undefined && fromEnv !== '' ? parseLinuxCrSyscalls(fromEnv) : undefined);
  return chooseLinuxCrSyscalls({
    arch: process.arch,
    release: os.release(),
    symbols: kallsymsNames(fs.readFileSync('/proc/kallsyms', 'utf8')),
    override: chosen,
  });
}
