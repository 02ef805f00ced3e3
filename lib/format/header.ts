// A plausible header for images written by cr-creds itself (tests, harnesses, examples).
import { Arch, UTS_LEN } from './constants';
import type { ImageHeader } from './types';

/**
 * The header's twelve kernel constants for x86-64 Linux 2.6.34, in the reference's order:
 * task_comm_len, at_vector_size, signal_nsig, uts sysname/nodename/release/version/machine/
 * domainname lengths, rlimit_nlimits, n_tty_buf_size, tty_termios_nccs.
 */
export const X86_64_CONSTANTS: readonly number[] = Object.freeze([
  16, 44, 64, UTS_LEN, UTS_LEN, UTS_LEN, UTS_LEN, UTS_LEN, UTS_LEN, 16, 4096, 19,
]);

/** x86-64, little-endian, kernel 2.6.34 (the seed's), time now; fields in `overrides` win. */
export function defaultHeader(overrides: Partial<ImageHeader> = {}): ImageHeader {
  return {
    byteOrder: 'little',
    arch: Arch.X86_64,
    kernel: { major: 2, minor: 6, patch: 34, rev: 0 },
    constants: X86_64_CONSTANTS,
    time: BigInt(Math.floor(Date.now() / 1000)),
    uflags: 0n,
    uts: { release: '2.6.34-cr', version: '#1 SMP', machine: 'x86_64' },
    ...overrides,
  };
}
