// Typed errors of the agreement harness (a broken harness, never a disagreement).
export class AgreementError extends Error {
  override name = 'AgreementError';
  readonly code = 'ERR_AGREEMENT';
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}
