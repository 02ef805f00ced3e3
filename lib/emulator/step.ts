// Steps: every decision the emulator takes, in order, with the rule that took it and a sentence
// a person can read. `restart --dry-run` and every restart error print these.

export interface Step {
  /** Index of the task (in the image or in the emulator) the step belongs to. */
  task?: number;
  /** What was attempted: 'setresuid(0,0,0)', 'restore USER 1001', ... */
  op: string;
  /** The rule that decided, e.g. 'setresuid.cap-setuid' (docs/emulator.md lists them). */
  rule: string;
  allowed: boolean;
  errno?: string;
  message: string;
}

export function allow(op: string, rule: string, message: string): Step {
  return { op, rule, allowed: true, message };
}

/**
 * An allowed step whose words are written only when read: the emulator's hot path (millions of
 * transitions a second) records every decision but pays for the sentence only on demand.
 */
class LazyStep implements Step {
  task?: number;
  readonly allowed = true;
  private text?: [string, string];
  constructor(
    readonly rule: string,
    private readonly words: () => [string, string],
  ) {}
  get op(): string {
    return (this.text ??= this.words())[0];
  }
  get message(): string {
    return (this.text ??= this.words())[1];
  }
  toJSON(): Step {
    return { ...(this.task !== undefined ? { task: this.task } : {}), op: this.op, rule: this.rule, allowed: true, message: this.message };
  }
}

/** allow(), with op and message computed on first read. */
export function allowLazy(rule: string, words: () => [op: string, message: string]): Step {
  return new LazyStep(rule, words);
}

export function refuse(op: string, rule: string, errno: string, message: string): Step {
  return { op, rule, allowed: false, errno, message };
}

/** "1001/1001/1001" */
export function ids3(a: number, b: number, c: number): string {
  return `${a}/${b}/${c}`;
}

/** -1 is shown as -1 (unchanged), as in the call. */
export function args(...xs: number[]): string {
  return xs.join(',');
}
