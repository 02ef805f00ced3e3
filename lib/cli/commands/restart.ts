// cr-creds restart: run a program with the creds of a task of an image. The program's stdio is
// the CLI's own; the CLI's messages go to stderr; signals sent to the CLI are passed on.
import { constants } from 'os';
import { parseArgs } from 'util';
import type { Command } from '../command';
import { CliFailure, UsageError } from '../command';
import { usageErrors } from '../args';
import { readImageSource } from '../image-files';
import { capNames, securebitNames, type Cred } from '../../model';
import { groupsAsRead } from '../../model/unmapped';
import { RestartDenied, restart, unrestoredText, type RestartOptions, type RestartPlanReport } from '../../restart';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function credLine(c: Cred): string {
  return [
    `uid ${c.uid}/${c.euid}/${c.suid}/${c.fsuid}`,
    `gid ${c.gid}/${c.egid}/${c.sgid}/${c.fsgid}`,
    `groups ${groupsAsRead(c).join(',') || '-'}`,
    `permitted ${capNames(c.caps.permitted).join(',') || '-'}`,
    `effective ${capNames(c.caps.effective).join(',') || '-'}`,
    `inheritable ${capNames(c.caps.inheritable).join(',') || '-'}`,
    `ambient ${capNames(c.caps.ambient).join(',') || '-'}`,
    `securebits ${c.securebits === null ? 'unknown' : securebitNames(c.securebits).join(',') || '-'}`,
  ].join('; ');
}

function planText(p: RestartPlanReport): string {
  const lines = [`restart task ${p.task} (${p.path}): ${[p.command, ...p.args].join(' ')}`, 'steps:'];
  for (const s of p.steps) lines.push(`  ${s.allowed ? 'ok  ' : 'DENY'} ${s.op}: ${s.message}`);
  lines.push('ops:');
  p.ops.forEach((o, i) => lines.push(`  ${i}. ${JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`));
  lines.push(`restored:  ${credLine(p.restored)}${p.restoredNoNewPrivs ? '; no_new_privs' : ''}`);
  lines.push(`after exec: ${credLine(p.exec.cred)}${p.exec.noNewPrivs ? '; no_new_privs' : ''}`);
  if (p.unrestored.length) {
    lines.push('not restored (--allow-partial):');
    for (const u of p.unrestored) lines.push(`  ${unrestoredText(u)}`);
  }
  return lines.join('\n');
}

function toJson(v: unknown): string {
  return JSON.stringify(
    v,
    (_, x) => {
      if (typeof x === 'bigint') return `0x${x.toString(16)}`;
      return x;
    },
    2,
  );
}

/** The plan without object cycles (user -> ns -> creator): ids and names only. */
function planJson(p: RestartPlanReport): unknown {
  const cred = (c: Cred) => ({ ...c, user: { uid: c.user.uid }, groups: [...c.groups.gids] });
  return { ...p, restored: cred(p.restored), exec: { ...p.exec, cred: cred(p.exec.cred) } };
}

export const restartCommand: Command = {
  name: 'restart',
  summary: "run a program with the credentials of a task in an image",
  usage:
    'cr-creds restart FILE [--task N|--pid P] [--dry-run] [--verbose] [--json] [--carry-caps] [--no-die-with-parent] [--allow-partial] -- CMD [ARGS...]\n' +
    "  FILE                  the image: a file, FIFO or '-' (stdin), read as a stream\n" +
    '  --task N | --pid P    the task to restart: its index, or its original pid (default: task 0)\n' +
    '  --dry-run             judge and plan only, nothing started; print the plan\n' +
    '  --verbose             with a refusal, list every refused step (default: the first ones and a count)\n' +
    '  --json                the plan (--dry-run) or the exit status as JSON\n' +
    "  --carry-caps          carry the image's permitted caps across execve (through ambient)\n" +
    '  --no-die-with-parent  let the program outlive cr-creds (default: it is killed with SIGKILL\n' +
    '                        when cr-creds dies, even by SIGKILL; set-uid/file-cap programs excepted)\n' +
    "  --allow-partial       a sandboxed restarter: where the caller's bounding set lacks capabilities\n" +
    '                        the image holds (or the caller has no_new_privs), restore the rest and\n' +
    '                        list every field left out, with the reason, on stderr (default: refuse)',
  async run(argv, io) {
    const dash = argv.indexOf('--');
    const head = dash < 0 ? argv : argv.slice(0, dash);
    const { values, positionals } = usageErrors(() =>
      parseArgs({
        args: head,
        options: {
          task: { type: 'string' },
          pid: { type: 'string' },
          'dry-run': { type: 'boolean' },
          json: { type: 'boolean' },
          'carry-caps': { type: 'boolean' },
          'no-die-with-parent': { type: 'boolean' },
          verbose: { type: 'boolean' },
          'allow-partial': { type: 'boolean' },
        },
        allowPositionals: true,
        strict: true,
      }),
    );
    const [file, ...rest] = positionals;
    const cmd = dash < 0 ? rest : argv.slice(dash + 1);
    if (!file) throw new UsageError('no image FILE');
    if (cmd.length === 0) throw new UsageError('no command: put it after --');
    if (dash >= 0 && rest.length) throw new UsageError(`unexpected argument '${rest[0]}' before --`);
    if (values.task !== undefined && values.pid !== undefined) throw new UsageError('--task and --pid exclude each other');
    const int = (s: string, what: string) => {
      if (!/^\d+$/.test(s)) throw new UsageError(`${what}: not a number: ${s}`);
      return Number(s);
    };
    const opts: RestartOptions = { carryCaps: Boolean(values['carry-caps']), dieWithParent: !values['no-die-with-parent'], allowPartial: Boolean(values['allow-partial']) };
    if (values.task !== undefined) opts.task = int(values.task, '--task');
    if (values.pid !== undefined) opts.pid = int(values.pid, '--pid');

    const { image } = await readImageSource(file, io.stdin, undefined, false);
    // A refusal: its first steps and a count, or (--verbose) every refused step.
    const refusals = <T>(f: () => T): T => {
      try {
        return f();
      } catch (e) {
        if (e instanceof RestartDenied && values.verbose) throw new CliFailure(e.describe(true));
        throw e;
      }
    };
    if (values['dry-run']) {
      const plan = refusals(() => restart(image, cmd[0], cmd.slice(1), { ...opts, dryRun: true }));
      io.stdout.write((values.json ? toJson(planJson(plan)) : planText(plan)) + '\n');
      return 0;
    }
    // Handlers go in before the program starts: a signal that arrives while restart() is still
    // returning (the program may already be running) is held and passed on right after.
    let h: ReturnType<typeof restart> | undefined;
    const pending: NodeJS.Signals[] = [];
    const forward = (sig: NodeJS.Signals) => {
      if (h) h.kill(sig);
      else pending.push(sig);
    };
    for (const s of FORWARDED) process.on(s, forward);
    try {
      h = refusals(() => restart(image, cmd[0], cmd.slice(1), { ...opts, stdio: 'inherit' }));
      // Never silent: what a partial restart left out, each with the reason.
      for (const u of h.unrestored) io.stderr.write(`cr-creds: restarted without the image's ${unrestoredText(u)}\n`);
      for (const sig of pending.splice(0)) h.kill(sig);
      const { code, signal } = await h;
      if (values.json) io.stderr.write(toJson({ pid: h.pid, code, signal }) + '\n');
      return code ?? 128 + (signal ? constants.signals[signal] : 0);
    } finally {
      for (const s of FORWARDED) process.off(s, forward);
    }
  },
};
