// cr-creds restart: run a program with the creds of a task of an image. The program's stdio is
// the CLI's own; the CLI's messages go to stderr; signals sent to the CLI are passed on.
import * as fs from 'fs';
import { constants } from 'os';
import { parseArgs } from 'util';
import type { Command } from '../command';
import { UsageError } from '../command';
import { usageErrors } from '../args';
import { capNames, securebitNames, type Cred } from '../../model';
import { restart, type RestartHandle, type RestartOptions, type RestartPlanReport } from '../../restart';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function credLine(c: Cred): string {
  return [
    `uid ${c.uid}/${c.euid}/${c.suid}/${c.fsuid}`,
    `gid ${c.gid}/${c.egid}/${c.sgid}/${c.fsgid}`,
    `groups ${c.groups.gids.join(',') || '-'}`,
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
  usage: 'cr-creds restart FILE [--task N|--pid P] [--dry-run] [--json] [--carry-caps] -- CMD [ARGS...]',
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
    const opts: RestartOptions & { dryRun?: false } = { carryCaps: Boolean(values['carry-caps']) };
    if (values.task !== undefined) opts.task = int(values.task, '--task');
    if (values.pid !== undefined) opts.pid = int(values.pid, '--pid');

    const bytes = file === '-' ? await readAll(io.stdin) : fs.readFileSync(file);
    const image = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (values['dry-run']) {
      const plan = restart(image, cmd[0], cmd.slice(1), { ...opts, dryRun: true });
      io.stdout.write((values.json ? toJson(planJson(plan)) : planText(plan)) + '\n');
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
      h = restart(image, cmd[0], cmd.slice(1), { ...opts, stdio: 'inherit' });
      for (const sig of pending.splice(0)) h.kill(sig);
      const { exitCode, signal } = await h;
      if (values.json) io.stderr.write(toJson({ pid: h.pid, exitCode, signal }) + '\n');
      return exitCode ?? 128 + (signal ? constants.signals[signal] : 0);
    } finally {
      for (const s of FORWARDED) process.off(s, forward);
    }
  },
};

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}
