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

export function x86HeaderArchBody(a: X86HeaderArch, le: boolean): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint16(0, a.hasFxsr, le);
  v.setUint16(2, a.hasXsave, le);
  v.setUint16(4, a.xstateSize, le);
  return b;
}

/** The fields of an x86 HEADER_ARCH body, or null when it is not the 8-byte x86 layout. */
export function readX86HeaderArch(body: Uint8Array, le: boolean): X86HeaderArch | null {
  if (body.byteLength !== 8) return null;
  const v = new DataView(body.buffer, body.byteOffset, 8);
  return { hasFxsr: v.getUint16(0, le), hasXsave: v.getUint16(2, le), xstateSize: v.getUint16(4, le) };
}

/** The name the series' kernels report when no LSM is loaded (security_ops->name). */
export const DEFAULT_LSM_NAME = 'default';

/** The LSM-name BUFFER body: the name, NUL-padded to CHECKPOINT_LSM_NAME_MAX + 1 bytes. */
export function lsmNameBody(name: string): Uint8Array {
  const b = new Uint8Array(LSM_NAME_LEN);
  b.set(Buffer.from(name, 'latin1').subarray(0, LSM_NAME_LEN - 1));
  return b;
}

/** The LSM name a BUFFER body holds (latin1 up to the first NUL). */
export function lsmNameOf(body: Uint8Array): string {
  const nul = body.indexOf(0);
  return Buffer.from(body.subarray(0, nul < 0 ? body.length : nul)).toString('latin1');
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
    container: { body: new Uint8Array(0), lsmName: lsmNameBody(DEFAULT_LSM_NAME), lsmInfo: new Uint8Array(0) },
  };
  if (header.arch === Arch.X86_64 || header.arch === Arch.X86_32)
    prefix.headerArch = x86HeaderArchBody({ hasFxsr: 1, hasXsave: 0, xstateSize: 512 }, le);
  return prefix;
}
