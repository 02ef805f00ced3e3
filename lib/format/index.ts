// The linux-cr credential image codec.
export * from './types';
export {
  HEAD_MAGIC,
  TAIL_MAGIC,
  RecordType,
  Arch,
  ARCH_NAMES,
  RecordSize,
  UTS_LEN,
  NGROUPS_MAX,
  MAX_ID_EXTENTS,
  MAX_GROUPINFO_LEN,
  MAX_RECORD_LEN,
  MAX_BUFFER_LEN,
  PID_MAX_LIMIT,
  SEED_SECUREBITS_MASK,
  LSM_NAME_LEN,
  MAX_LSM_NAME_LEN,
  type RecordTypeName,
} from './constants';
export {
  DIALECTS,
  DIALECT_NAMES,
  DEFAULT_DIALECT,
  V21,
  V23,
  isDialect,
  type DialectTable,
  type TaskRecordTypes,
  type ObjTypes,
} from './dialects';
export {
  ImageFormatError,
  ImageEncodeError,
  FORMAT_RULES,
  type FormatRule,
  type FormatErrorCode,
  type EncodeErrorCode,
} from './errors';
export { CredExtFlag, UsernsExtFlag, TaskExtFlag, CRED_EXT_LEN, TASK_EXT_LEN, USERNS_EXT_BASE, usernsExtLen } from './extensions';
export { decode, decodeDetailed, validate, type DecodeDetails } from './decode';
export { readImage, readImageDetailed, readRecords, type RawRecord } from './stream';
export { encode, type EncodeOptions } from './encode';
export { ImageBuilder, BuilderError, type CredInit, type NamespaceExt, type TaskOptions } from './builder';
export {
  defaultHeader,
  defaultPrefix,
  X86_64_CONSTANTS,
  DEFAULT_LSM_NAME,
  lsmNameBody,
  lsmNameOf,
  readX86HeaderArch,
  x86HeaderArchBody,
  type X86HeaderArch,
} from './header';
