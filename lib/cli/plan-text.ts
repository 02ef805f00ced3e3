// `restart --dry-run` as text that reads in 100 columns: the verdict, the plan as a short
// numbered list of calls, and the creds before and after execve in inspect's shorthand
// (capability sets as `net_bind_service`, `all(0..40)-sys_resource`). --verbose adds every
// judged step, wrapped, each said once.
import { CAP, type Cred } from '../model';
import type { IdMapExtent } from '../model/types';
import type { NativeRestartOp } from '../native/binding';
import { groupsAsRead } from '../model/unmapped';
import { unrestoredText, type RestartPlanReport } from '../restart';
import { capShort, securebitsShort } from '../inspect/graph';
import { wrap } from './help';

const WIDTH = 100;

function ids(a: number, b: number, c: number, d: number): string {
  return a === b && b === c && c === d ? String(a) : `${a}/${b}/${c}/${d}`;
}

function maps(m: readonly IdMapExtent[] | undefined): string {
  if (!m || m.length === 0) return '-';
  const shown = m.slice(0, 3).map((e) => `${e.inside}:${e.outside}:${e.count}`).join(',');
  return m.length > 3 ? `${shown},… (${m.length})` : shown;
}

function groups(g: readonly number[]): string {
  if (g.length === 0) return '-';
  return g.length > 8 ? `${g.slice(0, 8).join(',')},… (${g.length})` : g.join(',');
}

/** One op as a call, short. */
export function opText(o: NativeRestartOp): string {
  switch (o.op) {
    case 'setresuid': return `setresuid ${o.ruid} ${o.euid} ${o.suid}`;
    case 'setresgid': return `setresgid ${o.rgid} ${o.egid} ${o.sgid}`;
    case 'setfsuid': return `setfsuid ${o.fsuid}`;
    case 'setfsgid': return `setfsgid ${o.fsgid}`;
    case 'setgroups': return `setgroups ${groups(o.gids)}`;
    case 'capset': return `capset i=${capShort(o.inheritable)} p=${capShort(o.permitted)} e=${capShort(o.effective)}`;
    case 'set_securebits': return `securebits ${securebitsShort(o.bits)}`;
    case 'set_keepcaps': return `keepcaps ${o.on ? 'on' : 'off'}`;
    case 'capbset_drop': return `bounding drop ${capShort(1n << BigInt(o.cap))}`;
    case 'ambient_raise': return `ambient raise ${capShort(1n << BigInt(o.cap))}`;
    case 'ambient_lower': return `ambient lower ${capShort(1n << BigInt(o.cap))}`;
    case 'ambient_clear_all': return 'ambient clear';
    case 'set_no_new_privs': return 'no_new_privs';
    case 'sys_restart': return 'sys_restart (the linux-cr kernel restores the image)';
    case 'unshare_user': {
      const u = o as Extract<NativeRestartOp, { op: 'unshare_user' }> & { uidHelper?: string; gidHelper?: string };
      const by = [u.uidHelper && 'newuidmap', u.gidHelper && 'newgidmap'].filter(Boolean);
      return `unshare user ns: uid_map ${maps(u.uidMap)} gid_map ${maps(u.gidMap)} setgroups ${u.setgroups ?? '-'}` +
        (by.length ? ` (by ${by.join(', ')})` : '');
    }
    default: return (o as { op: string }).op;
  }
}

function credLines(c: Cred, noNewPrivs: boolean, indent: string): string[] {
  return [
    `${indent}uid ${ids(c.uid, c.euid, c.suid, c.fsuid)}  gid ${ids(c.gid, c.egid, c.sgid, c.fsgid)}  groups ${groups(groupsAsRead(c))}`,
    `${indent}caps p=${capShort(c.caps.permitted)} e=${capShort(c.caps.effective)} i=${capShort(c.caps.inheritable)} a=${capShort(c.caps.ambient)}`,
    `${indent}bounding ${capShort(c.caps.bounding)}  securebits ${securebitsShort(c.securebits)}${noNewPrivs ? '  no_new_privs' : ''}`,
  ];
}

/** `{CAP_A, CAP_B, ...}` in a message as inspect's shorthand of that set. */
function shortCapLists(message: string): string {
  return message.replace(/\{(CAP_[A-Z_]+(?:, CAP_[A-Z_]+)*)\}/g, (whole, list: string) => {
    let set = 0n;
    for (const n of list.split(', ')) {
      const bit = CAP[n.slice(4)];
      if (bit === undefined) return whole;
      set |= 1n << BigInt(bit);
    }
    return capShort(set);
  });
}

/** A step's message once: the emulator's messages often repeat the op they belong to. */
function stepText(op: string, message: string): string {
  return shortCapLists(message.startsWith(op) ? message : `${op}: ${message}`);
}

export function planText(p: RestartPlanReport, verbose: boolean): string {
  const lines = [`restart task ${p.task}: ${[p.command, ...p.args].join(' ')}`];
  const refused = p.steps.filter((s) => !s.allowed).length;
  lines.push(`judged: ${refused ? `${refused} step(s) refused` : 'allowed'} (${p.steps.length} steps${verbose ? '' : '; --verbose lists them'})`);
  if (verbose) {
    for (const s of p.steps) lines.push(...wrap(stepText(s.op, s.message), WIDTH, 7).map((l, i) => (i === 0 ? `  ${s.allowed ? 'ok ' : 'NO '}  ${l.trimStart()}` : l)));
  }
  const how = p.path === 'ops' ? 'in the child, before execve' : p.path === 'linux-cr' ? "through the kernel's sys_restart" : 'through the stand-in for sys_restart';
  lines.push(`plan (${p.ops.length} ${p.ops.length === 1 ? 'call' : 'calls'}, ${how}):`);
  p.ops.forEach((o, i) => lines.push(...wrap(opText(o), WIDTH, 6).map((l, j) => (j === 0 ? `  ${String(i + 1).padStart(2)}. ${l.trimStart()}` : l))));
  lines.push('restored (the child checks these before execve):', ...credLines(p.restored, p.restoredNoNewPrivs, '  '));
  lines.push(`runs with (after execve of ${p.command}):`, ...credLines(p.exec.cred, p.exec.noNewPrivs, '  '));
  if (p.unrestored.length) {
    lines.push('not restored (--allow-partial):');
    for (const u of p.unrestored) lines.push(...wrap(unrestoredText(u), WIDTH, 4).map((l, i) => (i === 0 ? `  ${l.trimStart()}` : l)));
  }
  return lines.join('\n') + '\n';
}
