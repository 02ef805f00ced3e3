// cr-creds restart: run a program with the creds of a task of an image. The program's stdio is
// the CLI's own; the CLI's messages go to stderr; signals sent to the CLI are passed on.
import type { Command } from '../command';
import { CliFailure, UsageError } from '../command';
import { parseCommandArgs } from '../args';
import type { RestartHandle, RestartOptions, RestartPlanReport } from '../../restart';
import type { Cred } from '../../model';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function toJson(v: unknown): string {
  return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x), 2);
}

/** The plan without object cycles (user -> ns -> creator): ids and names only. */
function planJson(p: RestartPlanReport): unknown {
  const cred = (c: Cred) => ({ ...c, user: { uid: c.user.uid }, groups: [...c.groups.gids] });
  return { ...p, restored: cred(p.restored), exec: { ...p.exec, cred: cred(p.exec.cred) } };
}

export const restartCommand: Command = {
  name: 'restart',
  summary: 'run a program with the credentials of a task in an image',
  synopsis: ['restart FILE [--task N | --pid P] [--carry-caps] [--allow-partial] [--no-die-with-parent] [--dry-run] [--verbose] [--json] -- CMD [ARGS...]'],
  description:
    "Judges the restart against this process's own credentials, then starts CMD with the credentials of one task of the image (FILE, or '-' for stdin): ids, groups, capability sets, securebits, no_new_privs and its chain of user namespaces. A refusal starts nothing and lists every refused step. CMD's stdio is the CLI's own; SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to the CLI are passed on to it, and CMD dies (SIGKILL) with the CLI, even when the CLI is killed with SIGKILL (PR_SET_PDEATHSIG, as bubblewrap's die-with-parent; the kernel drops it for a set-uid, set-gid or file-capability CMD).",
  operands: 'command',
  options: [
    { name: 'task', value: 'N', help: 'the task of the image by index (default 0, the root task)' },
    { name: 'pid', value: 'P', help: 'the task of the image by its original pid' },
    { name: 'carry-caps', help: "carry the image's permitted capabilities across execve through the ambient set (docs/restart.md)" },
    { name: 'allow-partial', help: "a sandboxed restarter: where the caller's bounding set lacks capabilities the image holds (or the caller has no_new_privs and the image not), restore the rest and list every field left out, with the reason, on stderr and in the plan (default: refuse, naming this option)" },
    { name: 'no-die-with-parent', help: 'let CMD outlive the CLI (default: CMD is killed with SIGKILL when the CLI dies, however it dies)' },
    { name: 'dry-run', help: 'judge and plan only: print the plan (the calls, the creds before and after execve); start nothing' },
    { name: 'verbose', help: 'with --dry-run: list every judged step too; with a refusal: every refused step (default: the first ones and a count by rule)' },
    { name: 'json', help: 'with --dry-run: the plan as JSON (capability sets as hex strings); otherwise the exit as JSON on stderr' },
  ],
  notes: ["Exit status: CMD's own, or 128+N when it dies by signal N; 1 a refusal or a failure to start it; 2 usage."],
  async run(argv, io) {
    const dash = argv.indexOf('--');
    const head = dash < 0 ? argv : argv.slice(0, dash);
    const { values, positionals } = parseCommandArgs(this, head);
    const [file, ...rest] = positionals;
    const cmd = dash < 0 ? rest : argv.slice(dash + 1);
    if (!file) throw new UsageError('no image FILE');
    if (cmd.length === 0) throw new UsageError('no command: put it after --');
    if (dash >= 0 && rest.length) throw new UsageError(`unexpected argument '${rest[0]}' before --`);
    if (values.task !== undefined && values.pid !== undefined) throw new UsageError('--task and --pid exclude each other');
    const int = (s: string, what: string) => {
      if (!/^\d+$/.test(s)) throw new UsageError(`${what}: not a number: '${s}'`);
      return Number(s);
    };
    const opts: RestartOptions & { dryRun?: false } = {
      carryCaps: Boolean(values['carry-caps']),
      allowPartial: Boolean(values['allow-partial']),
      dieWithParent: !values['no-die-with-parent'],
    };
    if (values.task !== undefined) opts.task = int(values.task as string, '--task');
    if (values.pid !== undefined) opts.pid = int(values.pid as string, '--pid');

    const { readImageSource } = await import('../image-files');
    const { image } = await readImageSource(file, io, undefined, false);
    const { restart, RestartDenied, unrestoredText } = await import('../../restart');
    // A refusal: its first steps and a count by rule, or (--verbose) every refused step.
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
      const { planText } = await import('../plan-text');
      io.stdout.write(values.json ? toJson(planJson(plan)) + '\n' : planText(plan, Boolean(values.verbose)));
      return 0;
    }
    // Handlers go in before the program starts: a signal that arrives while restart() is still
    // returning (the program may already be running) is held and passed on right after.
    let h: RestartHandle | undefined;
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
      const { exitCode, signal } = await h;
      if (values.json) io.stderr.write(toJson({ pid: h.pid, exitCode, signal }) + '\n');
      const { constants } = await import('os');
      return exitCode ?? 128 + (signal ? constants.signals[signal] : 0);
    } finally {
      for (const s of FORWARDED) process.off(s, forward);
    }
  },
};
