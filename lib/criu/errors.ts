// The one error type for CRIU image files: every failure names the file, the byte offset, the
// rule it breaks and, where there is one, the entry, so hostile or damaged input is diagnosable
// from one line (`FILE: offset N: RULE: detail`), as ImageFormatError does for linux-cr images.

/** Rule name -> error code. One code per rule (docs/criu-interop.md lists them). */
export const CRIU_RULES = {
  /** A file the dump needs is absent (inventory.img, pstree.img, core-TID.img, userns-ID.img). */
  'missing-file': 'ERR_CRIU_MISSING_FILE',
  /** The path is not a regular file, or it is larger than any credential-bearing image could be. */
  'file-size': 'ERR_CRIU_FILE_SIZE',
  /** The file or an entry ends before the bytes it announces. */
  truncated: 'ERR_CRIU_TRUNCATED',
  /** The leading magic numbers are not the ones this image must carry. */
  'bad-magic': 'ERR_CRIU_BAD_MAGIC',
  /** An entry's u32 size prefix exceeds the per-entry limit. */
  'entry-size': 'ERR_CRIU_ENTRY_TOO_LARGE',
  /** An entry's protobuf payload does not decode as the expected message. */
  'bad-entry': 'ERR_CRIU_BAD_ENTRY',
  /** The file holds no entry where it must hold one. */
  'missing-entry': 'ERR_CRIU_MISSING_ENTRY',
  /** The file holds more entries than its image kind allows (inventory, core, ids, userns). */
  'extra-entry': 'ERR_CRIU_EXTRA_ENTRY',
  /** Entries decode, but contradict each other or the kernel's limits (a pid listed twice...). */
  inconsistent: 'ERR_CRIU_INCONSISTENT',
  /** A value cannot be written as the CRIU message asks (out of range, wrong type). */
  unencodable: 'ERR_CRIU_UNENCODABLE',
  /** Reading or writing the file failed at the system level. */
  io: 'ERR_CRIU_IO',
} as const;
export type CriuRule = keyof typeof CRIU_RULES;
export type CriuErrorCode = (typeof CRIU_RULES)[CriuRule];

export class CriuImageError extends Error {
  override name = 'CriuImageError';
  readonly code: CriuErrorCode;
  constructor(
    readonly rule: CriuRule,
    /** Path of the image file (as given, joined with the dump directory). */
    readonly file: string,
    /** Byte offset in the file where the problem starts. */
    readonly offset: number,
    readonly detail: string,
    /** Index of the entry in the file (0-based), when the problem is inside one. */
    readonly entry?: number,
  ) {
    super(`${file}: offset ${offset}: ${rule}: ${entry === undefined ? '' : `entry ${entry}: `}${detail}`);
    this.code = CRIU_RULES[rule];
  }
}
