// Kernel agreement: the emulator and the real kernel run the same random credential
// op sequences; every errno and every final cred must agree. See docs/agreement.md.
export { AgreementHarness, diffCreds, snapshot, UNMAPPED_KERNEL_ID } from './run';
export { agreementCase, credOp, startOps, ID_POOL, CAP_POOL, type GenOptions } from './generate';
export { ReporterFiles, parseReport, type DiskFile } from './reporter';
export { AgreementError } from './errors';
export { coverage, type Coverage } from './coverage';
export type { AgreementCase, CaseResult, CredSnapshot, Disagreement, Outcome } from './types';
