// cr-creds public API.
//
// The credential model and the image codec are flat exports; the emulator is a namespace
// (`emulator.Emulator`, ...) because its Step/RestartOutcome names would clash with restart's.

/** The shared credential model: Cred, User, UserNamespace, capabilities, CredOp. */
export * from './model';
/** The linux-cr image codec: decode, readImage, encode, validate, ImageBuilder, ImageFormatError. */
export * from './format';
/** Readable and JSON reports of an image (what `cr-creds inspect` prints). */
export * from './inspect';
/** The kernel's credential rules in TypeScript: the oracle that predicts and explains a restart. */
export * as emulator from './emulator';
/** Interop with CRIU's image files: read a dump's creds, convert both ways (`criu.criuDirToImage`, `criu.imageToCriu`). */
export * as criu from './criu';
/** Checkpoint of live processes. */
export {
  checkpoint,
  checkpointTree,
  type CheckpointOptions,
} from './checkpoint';
/** Restart: a program whose process carries an image's credentials. */
export {
  restart,
  planRestart,
  callerCreds,
  RestartHandle,
  RestartDenied,
  RestartStepError,
  RestartUnsupported,
  CarryCapsRefused,
  type RestartOptions,
  type RestartPlanReport,
  type RestartResult,
  type StdioOption,
  type ExecCreds,
} from './restart';
/** The addon itself (kernel probe, raw thread creds). */
export { native, type ProbeResult, type ThreadCreds } from './native/binding';
