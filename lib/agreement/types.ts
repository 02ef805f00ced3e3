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
  /**
   * Set when the disagreement comes after the model merged distinct unmapped kernel ids (it keeps
   * ids as the task sees them): a known limit of the model, counted apart, not a rule bug.
   */
  modelLimit?: 'unmapped-ids-collapse';
}

export interface CaseResult {
  agree: boolean;
  /** Every disagreement (if any) is a known model limit. */
  explained: boolean;
  disagreements: Disagreement[];
  kernel: { outcomes: Outcome[]; creds: CredSnapshot; exec?: { error?: string; creds?: CredSnapshot } };
  emulator: { outcomes: Outcome[]; creds: CredSnapshot; exec?: { error?: string; creds?: CredSnapshot } };
}
