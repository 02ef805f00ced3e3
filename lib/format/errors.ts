// Typed errors of the codec. Every reading error names the rule it breaks, with a code of its
// own, the byte offset and the record, so a damaged or hostile image is diagnosable from one line.

/** Rule name -> error code. One code per rule (docs/image-format.md lists them). */
export const FORMAT_RULES = {
  'head-magic': 'ERR_IMAGE_BAD_HEAD_MAGIC',
  truncated: 'ERR_IMAGE_TRUNCATED',
  'record-len': 'ERR_IMAGE_BAD_RECORD_LEN',
  'len-beyond-image': 'ERR_IMAGE_LEN_BEYOND_IMAGE',
  'record-too-large': 'ERR_IMAGE_RECORD_TOO_LARGE',
  'record-order': 'ERR_IMAGE_UNEXPECTED_RECORD',
  'groupinfo-len': 'ERR_IMAGE_BAD_GROUPINFO_LEN',
  'ngroups-max': 'ERR_IMAGE_TOO_MANY_GROUPS',
  'groups-order': 'ERR_IMAGE_GROUPS_NOT_ASCENDING',
  'objref-positive': 'ERR_IMAGE_BAD_OBJREF',
  'objref-unique': 'ERR_IMAGE_DUPLICATE_OBJREF',
  objtype: 'ERR_IMAGE_UNKNOWN_OBJTYPE',
  'ref-missing': 'ERR_IMAGE_MISSING_OBJECT',
  'ref-type': 'ERR_IMAGE_WRONG_OBJECT_TYPE',
  'userns-creator': 'ERR_IMAGE_BAD_USERNS_CREATOR',
  'task-cred': 'ERR_IMAGE_TASK_WITHOUT_CRED',
  'pids-count': 'ERR_IMAGE_BAD_PIDS_COUNT',
  'pids-buffer': 'ERR_IMAGE_BAD_PIDS_BUFFER',
  'tree-count': 'ERR_IMAGE_TASK_COUNT',
  'tail-missing': 'ERR_IMAGE_NO_TAIL',
  'tail-magic': 'ERR_IMAGE_BAD_TAIL_MAGIC',
  'after-tail': 'ERR_IMAGE_DATA_AFTER_TAIL',
  extension: 'ERR_IMAGE_BAD_EXTENSION',
} as const;
export type FormatRule = keyof typeof FORMAT_RULES;
export type FormatErrorCode = (typeof FORMAT_RULES)[FormatRule];

/** An image that breaks a rule of the format. Message: `offset N: RECORD: RULE: text`. */
export class ImageFormatError extends Error {
  override name = 'ImageFormatError';
  readonly code: FormatErrorCode;
  constructor(
    readonly rule: FormatRule,
    /** Byte offset of the record at fault (of the end of the image for a missing tail). */
    readonly offset: number,
    /** 'CRED', 'GROUPINFO', 'TYPE_1234', ... */
    readonly record: string,
    readonly detail: string,
  ) {
    super(`offset ${offset}: ${record}: ${rule}: ${detail}`);
    this.code = FORMAT_RULES[rule];
  }
}

export type EncodeErrorCode =
  /** The image holds state that a strictly series-compatible image cannot carry. */
  | 'ERR_IMAGE_NOT_EXPRESSIBLE'
  /** The image breaks a rule that decode would enforce (unsorted groups, too many extents...). */
  | 'ERR_IMAGE_INVALID_MODEL';

/** encode() refused an image; the message names the task and field. */
export class ImageEncodeError extends Error {
  override name = 'ImageEncodeError';
  constructor(
    readonly code: EncodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}
