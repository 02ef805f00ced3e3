// Typed errors of the emulator.
import type { Step } from './step';

/** A restart the kernel's rules refuse; the message lists every refused step in words. */
export class RestartDenied extends Error {
  override name = 'RestartDenied';
  readonly code = 'ERR_RESTART_DENIED';
  constructor(readonly steps: Step[]) {
    const refused = steps.filter((s) => !s.allowed);
    super(
      `restart denied: ${refused.length} step${refused.length === 1 ? '' : 's'} refused\n` +
        refused.map((s) => `  - ${s.task !== undefined ? `task ${s.task}: ` : ''}${s.message} [${s.rule}, ${s.errno}]`).join('\n'),
    );
  }
}

/** Misuse of the emulator or a state it cannot represent (not a kernel refusal). */
export class EmulatorError extends Error {
  override name = 'EmulatorError';
  readonly code = 'ERR_EMULATOR';
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}
