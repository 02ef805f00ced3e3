// An agreement case and what comparing it gives.
import type { CredOp } from '../model/ops';
import type { ThreadCreds } from '../native/binding';

/**
 * One case: `start` takes the forked root child to its starting creds (user namespaces,
 * groups, ids, bounding set, securebits, capabilities, ambient, no_new_privs), `ops` is what is
 * tested. Both lists run both ways and every op of both is compared; an execve may only be last.
 */
export interface AgreementCase {
  start: CredOp[];
  ops: CredOp[];
}

/** Creds as a task sees them (the shape native readThreadCreds gives). */
export type CredSnapshot = ThreadCreds;

/** One op's outcome: null for success, else the errno name. */
export type Outcome = string | null;

export interface Disagreement {
  /** Index into start ++ ops, or -1 for the final creds. */
  index: number;
  what: string;
  kernel: unknown;
  emulator: unknown;
}

export interface CaseResult {
  agree: boolean;
  disagreements: Disagreement[];
  kernel: { outcomes: Outcome[]; creds: CredSnapshot; exec?: { error?: string; creds?: CredSnapshot } };
  emulator: { outcomes: Outcome[]; creds: CredSnapshot; exec?: { error?: string; creds?: CredSnapshot } };
}
