// cr-creds public API: every name a user needs, listed here and in docs/api.md, and nothing
// else (no raw addon, no escaping helpers, no test hooks). Adding a name means adding it to both.
//
// The emulator and CRIU interop are namespaces (`emulator.Emulator`, `criu.criuDirToImage`):
// their Step/RestartOutcome/... names would clash with restart's.

/** The credential model: creds, users, user namespaces, capabilities, securebits. */
export {
  CAP,
  CAP_NAMES,
  SECBIT,
  capBit,
  capName,
  capNames,
  capHex,
  parseCapHex,
  hasCap,
  securebitNames,
  sameCred,
  type Cred,
  type User,
  type UserNamespace,
  type Capabilities,
  type CapSet,
  type GroupInfo,
  type IdMapExtent,
  type TaskCreds,
  type TaskPids,
  type SecbitName,
  type CredOp,
  type CredOpName,
} from './model';

/** The linux-cr image codec (docs/image-format.md). */
export {
  decode,
  decodeDetailed,
  validate,
  readImage,
  readImageDetailed,
  readRecords,
  encode,
  ImageBuilder,
  BuilderError,
  defaultHeader,
  defaultPrefix,
  DIALECTS,
  isDialect,
  readX86HeaderArch,
  x86HeaderArchBody,
  lsmNameBody,
  lsmNameOf,
  ImageFormatError,
  ImageEncodeError,
  FORMAT_RULES,
  type Image,
  type ImageHeader,
  type ImagePrefix,
  type Dialect,
  type DialectTable,
  type DecodeDetails,
  type RawRecord,
  type EncodeOptions,
  type CredInit,
  type TaskOptions,
  type FormatRule,
  type FormatErrorCode,
  type EncodeErrorCode,
} from './format';

/** Reports of an image: what `cr-creds inspect` prints (text, JSON, the object graph as DOT or SVG). */
export {
  renderReport,
  toInspectJson,
  INSPECT_SCHEMA_VERSION,
  toGraph,
  graphToDot,
  graphToSvg,
  credentialFields,
  differentFields,
  type InspectJson,
  type ObjectGraph,
  type GraphOptions,
  type SvgOptions,
  type CredentialFields,
} from './inspect';

/** The kernel's credential rules in TypeScript: the oracle that predicts and explains a restart. */
export * as emulator from './emulator';
/** CRIU's image files: read a dump's creds, convert both ways (docs/criu-interop.md). */
export * as criu from './criu';
/** Interop with OCI, systemd, Kubernetes, setpriv and bwrap, and inspect JSON back to an image (`interop.toOci`, `interop.fromInspectJson`, ...). */
export * as interop from './interop';

/** Checkpoint of live processes (a pid, a ChildProcess or restart handle, or a pidfd). */
export {
  checkpoint,
  checkpointTree,
  stopTracer,
  CheckpointError,
  ProcessGoneError,
  ProcParseError,
  SecurebitsUnreadableError,
  SecurebitsReaderUnavailableError,
  UnsupportedArchitectureError,
  NoLinuxCrError,
  NotExpressibleError,
  type CheckpointOptions,
  type CheckpointProgress,
  type CheckpointTarget,
  type ChildLike,
  type PidfdTarget,
  type UnknownSecurebits,
  type SecurebitsReader,
} from './checkpoint';

/** Restart: a program whose process carries an image's credentials (docs/restart.md). */
export {
  restart,
  planRestart,
  callerCreds,
  RestartHandle,
  RestartDenied,
  RestartStepError,
  RestartUnsupported,
  CarryCapsRefused,
  RestartAborted,
  RestartExitError,
  type RestartOptions,
  type RestartResult,
  type RestartPlanReport,
  type StdioOption,
  type StdioEntry,
  type ExecCreds,
  type Unrestored,
  type Step,
  type StepPhase,
} from './restart';

/** What the running kernel offers (`cr-creds probe`). */
export { probe, type ProbeResult, type ThreadCreds } from './native/probe';
