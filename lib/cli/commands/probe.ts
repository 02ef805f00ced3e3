import type { Command } from '../command';
import { parseArgs } from 'util';
import { usageErrors } from '../args';
import { native } from '../../native/binding';
import { securebitNames } from '../../model/capabilities';

export const probe: Command = {
  name: 'probe',
  summary: 'report what the running kernel offers for credential checkpoint/restart',
  usage: 'cr-creds probe [--json]',
  async run(argv, io) {
    const { values } = usageErrors(() =>
      parseArgs({ args: argv, options: { json: { type: 'boolean' } }, strict: true }),
    );
    const p = native().probe();
    if (values.json) {
      io.stdout.write(JSON.stringify(p, null, 2) + '\n');
      return 0;
    }
    const lines = [
      `kernel:          ${p.sysname} ${p.release} ${p.machine}`,
      `cap_last_cap:    ${p.capLastCap}`,
      `user namespaces: ${p.userNamespaces.canCreate ? 'can create' : `cannot create (${p.userNamespaces.createError})`}, max ${p.userNamespaces.maxUserNamespaces}, nest ${p.userNamespaces.maxDepth} deep${p.userNamespaces.maxDepthError ? ` (then ${p.userNamespaces.maxDepthError})` : ''}`,
      `securebits:      ${p.securebits.known === null ? `unknown (${p.securebits.error})` : `${securebitNames(p.securebits.known).join(' ')} (0x${p.securebits.known.toString(16)})`}`,
      `ptrace:          ${p.ptrace.works ? 'works (securebits of other tasks readable)' : `refused (${p.ptrace.error}): securebits of other tasks unknown`}`,
      `linux-cr:        ${p.linuxCr.sysCheckpoint && p.linuxCr.sysRestart ? 'sys_checkpoint and sys_restart present' : p.linuxCr.kallsymsReadable ? 'absent (emulated restart will be used)' : 'unknown (/proc/kallsyms unreadable)'}`,
    ];
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
