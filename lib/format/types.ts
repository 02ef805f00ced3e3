// The image as a whole: what decode returns and encode takes.
import type { TaskCreds } from '../model/types';

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

export interface Image {
  header: ImageHeader;
  credLayout: CredLayout;
  tasks: TaskCreds[];
  /** Opaque SECURITY objects (96-byte layout only); absent when the image has none. */
  security?: SecurityObject[];
}
