// Which CredOp kinds a batch of cases exercised, and how often each succeeded or failed.
import type { CredOpName } from '../model/ops';
import type { AgreementCase, CaseResult } from './types';

export const ALL_OPS: readonly CredOpName[] = [
  'setresuid', 'setresgid', 'setfsuid', 'setfsgid', 'setgroups', 'capset', 'set_securebits', 'set_keepcaps',
  'capbset_drop', 'ambient_raise', 'ambient_lower', 'ambient_clear_all', 'set_no_new_privs', 'unshare_user', 'execve',
];

export interface Coverage {
  /** Per op kind: how many ran, how many the kernel refused (by errno). */
  ops: Record<CredOpName, { runs: number; ok: number; errnos: Record<string, number> }>;
}

export function coverage(): Coverage & { add(c: AgreementCase, r: CaseResult): void; uncovered(): CredOpName[] } {
  const ops = Object.fromEntries(ALL_OPS.map((o) => [o, { runs: 0, ok: 0, errnos: {} as Record<string, number> }])) as Coverage['ops'];
  return {
    ops,
    add(c, r) {
      const all = [...c.start, ...c.ops];
      all.forEach((op, i) => {
        const e = op.op === 'execve' ? (r.kernel.exec?.error ?? null) : r.kernel.outcomes[i];
        const s = ops[op.op];
        s.runs++;
        if (e === null || e === undefined) s.ok++;
        else s.errnos[e] = (s.errnos[e] ?? 0) + 1;
      });
    },
    /** Kinds never run, or never successful. */
    uncovered() {
      return ALL_OPS.filter((o) => ops[o].runs === 0 || ops[o].ok === 0);
    },
  };
}
