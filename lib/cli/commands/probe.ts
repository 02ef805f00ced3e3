// `cr-creds probe`: what the running kernel offers.
import type { Command } from '../command';
import { parseCommandArgs } from '../args';
import { UsageError } from '../command';

export const probe: Command = {
  name: 'probe',
  summary: 'report what the running kernel offers for credential checkpoint/restart',
  synopsis: ['probe [--json]'],
  description:
    'Reports the kernel release, cap_last_cap, the securebits the kernel knows, user-namespace limits (can create, how deep they nest), whether ptrace of a child works (needed to read other tasks\' securebits, unless the caller may load BPF: see checkpoint), and whether the linux-cr syscalls are present.',
  operands: 'none',
  options: [{ name: 'json', help: 'the whole probe as JSON (field names as in the API\'s ProbeResult)' }],
  notes: ['Exit status: 0; 2 usage.'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(this, argv);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const { probe: runProbe } = await import('../../native/probe');
    const { securebitNames } = await import('../../model/capabilities');
    const p = runProbe();
    if (values.json) {
      io.stdout.write(JSON.stringify(p, null, 2) + '\n');
      return 0;
    }
    const known = p.securebits.known;
    const short = (n: string) => n.replace(/^SECBIT_/, '').toLowerCase();
    const lockedToo = known !== null && securebitNames(known).every((n) => n.endsWith('_LOCKED') || securebitNames(known).includes(`${n}_LOCKED`));
    const names = known === null ? [] : securebitNames(known).filter((n) => !lockedToo || !n.endsWith('_LOCKED')).map(short);
    const rows: [string, string][] = [
      ['kernel', `${p.sysname} ${p.release} ${p.machine}`],
      ['cap_last_cap', String(p.capLastCap)],
      ['user namespaces', `${p.userNamespaces.canCreate ? 'can create' : `cannot create (${p.userNamespaces.createError})`}, max ${p.userNamespaces.maxUserNamespaces}, nest ${p.userNamespaces.maxDepth} deep${p.userNamespaces.maxDepthError ? ` (then ${p.userNamespaces.maxDepthError})` : ''}`],
      // Which securebits the kernel accepts (each tried in a throwaway child), not a value anyone holds.
      ['known securebits', known === null ? `unknown (${p.securebits.error})` : `${names.join(' ')}${lockedToo ? ', each with its lock' : ''}`],
      ['ptrace', p.ptrace.works ? 'works (securebits of other tasks readable)' : `refused (${p.ptrace.error}): securebits of other tasks unknown`],
      ['linux-cr', p.linuxCr.sysCheckpoint && p.linuxCr.sysRestart ? 'sys_checkpoint and sys_restart present' : p.linuxCr.kallsymsReadable ? 'absent (restart applies the creds op by op)' : 'unknown (/proc/kallsyms unreadable)'],
    ];
    const lines = rows.map(([k, v]) => `${`${k}:`.padEnd(18)}${v}`);
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
