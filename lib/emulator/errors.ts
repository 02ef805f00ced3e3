// Typed errors of the emulator.
import type { Step } from './step';

/** Refused steps a RestartDenied message lists one by one; past this, the rest are counted by rule. */
export const DENIED_STEPS_SHOWN = 20;

function stepLine(s: Step): string {
  return `  - ${s.task !== undefined ? `task ${s.task}: ` : ''}${s.message} [${s.rule}, ${s.errno}]`;
}

/**
 * A restart the kernel's rules refuse; the message lists the refused steps in words: all of them
 * up to DENIED_STEPS_SHOWN, else that many and the rest counted by rule (a chain thousands of
 * levels deep is refused at every level). `steps` holds them all; describe(true) words them all.
 */
export class RestartDenied extends Error {
  override name = 'RestartDenied';
  readonly code = 'ERR_RESTART_DENIED';
  constructor(readonly steps: Step[]) {
    super(describeDenied(steps, false));
  }

  /** The message; `all`: every refused step listed, however many. */
  describe(all: boolean): string {
    return all ? describeDenied(this.steps, true) : this.message;
  }
}

function describeDenied(steps: readonly Step[], all: boolean): string {
  const refused = steps.filter((s) => !s.allowed);
  const head = `restart denied: ${refused.length} step${refused.length === 1 ? '' : 's'} refused`;
  if (all || refused.length <= DENIED_STEPS_SHOWN) return [head, ...refused.map(stepLine)].join('\n');
  const byRule = new Map<string, number>();
  for (const s of refused.slice(DENIED_STEPS_SHOWN)) byRule.set(s.rule, (byRule.get(s.rule) ?? 0) + 1);
  const rest = [...byRule].map(([rule, n]) => `${n} x ${rule}`).join(', ');
  return [head, ...refused.slice(0, DENIED_STEPS_SHOWN).map(stepLine), `  ... and ${refused.length - DENIED_STEPS_SHOWN} more: ${rest}`].join('\n');
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
