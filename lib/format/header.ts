// A plausible header and real-kernel prefix for images written by cr-creds itself (tests,
// harnesses, examples, live checkpoints).
import { Arch, LSM_NAME_LEN, UTS_LEN } from './constants';
import type { ImageHeader, ImagePrefix } from './types';

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

/** The x86 HEADER_ARCH body: the FPU facts a restarting kernel checks against its own. */
export interface X86HeaderArch {
  hasFxsr: number;
  hasXsave: number;
  /** Bytes of the saved FPU state: 512 (FXSAVE area) without xsave. */
  xstateSize: number;
}

/** u16 `v` as two byte-string chars in the given byte order. */
function u16Chars(v: number, le: boolean): string {
  const lo = String.fromCharCode(v & 0xff);
  const hi = String.fromCharCode((v >>> 8) & 0xff);
  return le ? lo + hi : hi + lo;
}

/** The x86 HEADER_ARCH body (a byte string, see ImagePrefix). */
export function x86HeaderArchBody(a: X86HeaderArch, le: boolean): string {
  return u16Chars(a.hasFxsr, le) + u16Chars(a.hasXsave, le) + u16Chars(a.xstateSize, le) + '\0\0';
}

/** The fields of an x86 HEADER_ARCH body, or null when it is not the 8-byte x86 layout. */
export function readX86HeaderArch(body: string, le: boolean): X86HeaderArch | null {
  if (body.length !== 8) return null;
  const u16 = (i: number) => (le ? body.charCodeAt(i) | (body.charCodeAt(i + 1) << 8) : (body.charCodeAt(i) << 8) | body.charCodeAt(i + 1));
  return { hasFxsr: u16(0), hasXsave: u16(2), xstateSize: u16(4) };
}

/** The name the series' kernels report when no LSM is loaded (security_ops->name). */
export const DEFAULT_LSM_NAME = 'default';

/** The LSM-name BUFFER body: the name's bytes (latin1), NUL-padded to CHECKPOINT_LSM_NAME_MAX + 1. */
export function lsmNameBody(name: string): string {
  return Buffer.from(name, 'latin1').subarray(0, LSM_NAME_LEN - 1).toString('latin1').padEnd(LSM_NAME_LEN, '\0');
}

/** The LSM name a BUFFER body holds (up to the first NUL). */
export function lsmNameOf(body: string): string {
  const nul = body.indexOf('\0');
  return nul < 0 ? body : body.slice(0, nul);
}

/**
 * What a real kernel of the series writes before TREE, for our writer: HEADER_ARCH on x86
 * (FXSR, no XSAVE, the 512-byte FXSAVE area: what any x86-64 CPU supports), then CONTAINER with
 * the 'default' LSM's name and an LSM_INFO without a body (the default LSM has no policy to
 * describe). Architectures whose HEADER_ARCH layout we do not know get none.
 */
export function defaultPrefix(header: Pick<ImageHeader, 'arch' | 'byteOrder'>): ImagePrefix {
  const le = header.byteOrder !== 'big';
  const prefix: ImagePrefix = {
    container: { body: '', lsmName: lsmNameBody(DEFAULT_LSM_NAME), lsmInfo: '' },
  };
  if (header.arch === Arch.X86_64 || header.arch === Arch.X86_32)
    prefix.headerArch = x86HeaderArchBody({ hasFxsr: 1, hasXsave: 0, xstateSize: 512 }, le);
  return prefix;
}
