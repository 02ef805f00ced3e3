// The image as a whole: what decode returns and encode takes.
import type { TaskCreds } from '../model/types';
import type { Dialect } from './dialects';

export type { Dialect };

export type ByteOrder = 'little' | 'big';

/** CRED record layouts: 88 bytes as in the seed; 96 with the later LSM sec_ref. */
export type CredLayout = 88 | 96;

export interface KernelVersion {
  major: number;
  minor: number;
  patch: number;
  rev: number;
}

export interface ImageHeader {
  byteOrder: ByteOrder;
  /** Arch id (1 x86-32, 2 x86-64, 3 s390x, 4 ARM). */
  arch: number;
  kernel: KernelVersion;
  /** The twelve u16 kernel constants of the header, in the reference's order. */
  constants: readonly number[];
  /** Seconds since the epoch. */
  time: bigint;
  uflags: bigint;
  /** The three BUFFER records after the header. */
  uts: { release: string; version: string; machine: string };
}

/**
 * An LSM object (object type SECURITY) that a 96-byte CRED's sec_ref names. cr-creds does not
 * interpret it: the record that followed its OBJREF is kept as type + body so it round-trips.
 */
export interface SecurityObject {
  /** Its objref in the image it was read from; Cred.secRef names it by this number. */
  objref: number;
  /** The record type it was written with. */
  type: number;
  /** The record's bytes after its 8-byte header, verbatim. */
  body: Uint8Array;
}

/**
 * The records a real kernel writes between the uts BUFFERs and TREE, each kept verbatim (the
 * bytes after its 8-byte header) so that an image reads and writes back byte for byte. A part
 * that is absent was not in the image (and is not written). Bodies are byte strings: one char
 * per byte (latin1, '\u0000'-'\u00ff'; `length` is the byte count), immutable, so images decoded
 * from alike bytes share them.
 */
export interface ImagePrefix {
  /** HEADER_ARCH's body; on x86 8 bytes: u16 has_fxsr, has_xsave, xstate_size, pad. */
  headerArch?: string;
  container?: {
    /** CONTAINER's body (empty in the series). */
    body: string;
    /** The LSM-name BUFFER's body: the name NUL-padded to 11 bytes; absent: no such BUFFER. */
    lsmName?: string;
    /** LSM_INFO's body; absent: no LSM_INFO record. */
    lsmInfo?: string;
  };
}

export interface Image {
  header: ImageHeader;
  /**
   * The numbering of the image's task records and object types: what decode read; what encode
   * writes unless its options say otherwise (absent: v21, the seed's).
   */
  dialect?: Dialect;
  /** The real-kernel prefix; absent: encode writes defaultPrefix(header). decode always sets it. */
  prefix?: ImagePrefix;
  credLayout: CredLayout;
  tasks: TaskCreds[];
  /** Opaque SECURITY objects (96-byte layout only); absent when the image has none. */
  security?: SecurityObject[];
}
