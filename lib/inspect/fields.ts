// Every credential field of a task in one flat, comparable record: what "the same creds" means
// when a restarted process is checked against its image (pids and time aside).
import { capHex } from '../model/capabilities';
import type { Cred } from '../model/types';

export interface CredentialFields {
  'uid/euid/suid/fsuid': string;
  'gid/egid/sgid/fsgid': string;
  groups: string;
  inheritable: string;
  permitted: string;
  effective: string;
  bounding: string;
  ambient: string;
  securebits: string;
  no_new_privs: string;
  'user.uid': string;
  /** Outermost first: creator uid, maps and setgroups of each level below the root. */
  'userns chain': string;
}

export function credentialFields(task: { cred: Cred; noNewPrivs: boolean }): CredentialFields {
  const c = task.cred;
  const chain: unknown[] = [];
  for (let ns = c.user.ns; ns.creator; ns = ns.creator.ns)
    chain.unshift({ owner: ns.creator.uid, uidMap: ns.uidMap ?? null, gidMap: ns.gidMap ?? null, setgroups: ns.setgroups ?? 'allow' });
  return {
    'uid/euid/suid/fsuid': `${c.uid}/${c.euid}/${c.suid}/${c.fsuid}`,
    'gid/egid/sgid/fsgid': `${c.gid}/${c.egid}/${c.sgid}/${c.fsgid}`,
    groups: c.groups.gids.join(','),
    inheritable: capHex(c.caps.inheritable),
    permitted: capHex(c.caps.permitted),
    effective: capHex(c.caps.effective),
    bounding: capHex(c.caps.bounding),
    ambient: capHex(c.caps.ambient),
    securebits: String(c.securebits),
    no_new_privs: String(task.noNewPrivs),
    'user.uid': String(c.user.uid),
    'userns chain': JSON.stringify(chain),
  };
}

/** The fields that differ between two tasks' records, as "field: a vs b". */
export function differentFields(a: CredentialFields, b: CredentialFields): string[] {
  const out: string[] = [];
  for (const k of Object.keys(a) as (keyof CredentialFields)[]) if (a[k] !== b[k]) out.push(`${k}: ${a[k]} vs ${b[k]}`);
  return out;
}
