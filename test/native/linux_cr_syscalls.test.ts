// The linux-cr syscall numbers per era: chosen from the kernel's release, checked against the
// mainline syscalls /proc/kallsyms shows, overridden explicitly; refused when unsure. Pure
// choices on given inputs (no kernel here has the series); the gate test checks that nothing
// is ever issued on this one.
import * as fs from 'fs';
import {
  LINUX_CR_ERAS,
  LinuxCrSyscallsUnknown,
  chooseLinuxCrSyscalls,
  kallsymsNames,
  linuxCrSyscallsHere,
  parseLinuxCrSyscalls,
} from '../../lib/native/linux-cr-syscalls';

const none = new Set<string>();
const pick = (arch: string, release: string, symbols: ReadonlySet<string> = none) => chooseLinuxCrSyscalls({ arch, release, symbols });

test('the table: x86-64 301/302, 304/305, 313/314; i386 339/340, 342/343, 348/349', () => {
  expect(LINUX_CR_ERAS.map((e) => [e.arch, e.checkpoint, e.restart])).toEqual([
    ['x64', 301, 302], ['x64', 304, 305], ['x64', 313, 314],
    ['ia32', 339, 340], ['ia32', 342, 343], ['ia32', 348, 349],
  ]);
});

test.each([
  ['x64', '2.6.33-cr', 301, 302],
  ['x64', '2.6.34.7-ckpt-v21', 301, 302],
  ['x64', '2.6.35', 301, 302],
  ['x64', '2.6.37-rc2-ckpt', 304, 305],
  ['x64', '2.6.39', 313, 314],
  ['x64', '3.4.0-cr', 313, 314],
  ['ia32', '2.6.34', 339, 340],
  ['ia32', '2.6.38', 342, 343],
  ['ia32', '3.0.0', 348, 349],
] as const)('%s %s: %i/%i', (arch, release, checkpoint, restart) => {
  expect(pick(arch, release)).toMatchObject({ checkpoint, restart });
});

test.each([
  ['x64', '6.18.0'],
  ['x64', '2.6.32'],
  ['x64', '3.8.0'],
  ['ia32', '3.2.0'],
  ['x64', 'not-a-release'],
  ['arm64', '2.6.34'],
])('unsure: %s %s is refused, naming the way out', (arch, release) => {
  expect(() => pick(arch, release)).toThrow(LinuxCrSyscallsUnknown);
  expect(() => pick(arch, release)).toThrow(/CR_CREDS_LINUX_CR_SYSCALLS=CHECKPOINT,RESTART/);
});

test('a release that says one era, but kallsyms shows the mainline syscall holding its number: refused', () => {
  expect(() => pick('x64', '2.6.34', new Set(['sys_fanotify_mark']))).toThrow(/syscall 301 is fanotify_mark here/);
  expect(() => pick('x64', '3.0.0', new Set(['__x64_sys_finit_module']))).toThrow(/syscall 313 is finit_module here/);
  expect(() => pick('ia32', '2.6.37', new Set(['sys_clock_adjtime']))).toThrow(/syscall 343 is clock_adjtime here/);
});

test('the override wins over the table, but never names a number kallsyms shows is another syscall', () => {
  expect(chooseLinuxCrSyscalls({ arch: 'x64', release: '6.18.0', symbols: none, override: { checkpoint: 333, restart: 334 } })).toEqual({ checkpoint: 333, restart: 334, source: 'override' });
  expect(() => chooseLinuxCrSyscalls({ arch: 'x64', release: '2.6.34', symbols: new Set(['__x64_sys_sched_setattr']), override: { checkpoint: 313, restart: 314 } })).toThrow(/syscall 314 is sched_setattr/);
});

test('the override text: CHECKPOINT,RESTART', () => {
  expect(parseLinuxCrSyscalls('301,302')).toEqual({ checkpoint: 301, restart: 302 });
  expect(parseLinuxCrSyscalls(' 313 , 314 ')).toEqual({ checkpoint: 313, restart: 314 });
  for (const bad of ['301', '301,', 'a,b', '-1,2', '0,1', '301;302', '99999,1'])
    expect(() => parseLinuxCrSyscalls(bad)).toThrow(/is not CHECKPOINT,RESTART/);
});

test('on this machine: the table refuses its release; the environment variable is read; kallsyms is parsed', () => {
  const names = kallsymsNames(fs.readFileSync('/proc/kallsyms', 'utf8'));
  // Today's x86-64 kernels hold every number the series used.
  if (process.arch === 'x64' && names.size > 1000) {
    expect(() => linuxCrSyscallsHere(undefined, {})).toThrow(LinuxCrSyscallsUnknown);
    expect(() => linuxCrSyscallsHere(undefined, { CR_CREDS_LINUX_CR_SYSCALLS: '313,314' })).toThrow(/finit_module|sched_setattr/);
    expect(linuxCrSyscallsHere(undefined, { CR_CREDS_LINUX_CR_SYSCALLS: '600,601' })).toEqual({ checkpoint: 600, restart: 601, source: 'override' });
  }
  expect(() => linuxCrSyscallsHere(undefined, { CR_CREDS_LINUX_CR_SYSCALLS: 'x' })).toThrow(/CR_CREDS_LINUX_CR_SYSCALLS: 'x' is not/);
});
