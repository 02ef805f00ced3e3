// `cr-creds export`: a task's identity in the format a container runtime, systemd or a
// launcher reads (docs/interop.md), with what that format cannot express listed.
import * as fs from 'fs';
import { parseCommandArgs } from '../args';
import { CliFailure, UsageError, type Command } from '../command';
import type { ExportFormat, Exported, TaskChoice } from '../../interop';
import type { Image } from '../../format';

type Interop = typeof import('../../interop');

/** The CLI's own bounding set: bwrap keeps its caller's, and the caller is most often this user. */
function ownBounding(): bigint | undefined {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

const FORMATS: readonly ExportFormat[] = ['oci', 'systemd', 'k8s', 'setpriv', 'bwrap'];

/** The exporter of each format; the interop modules are loaded only when export runs. */
function exporters(interop: Interop): Record<ExportFormat, (image: Image, choice: TaskChoice) => Exported<unknown>> {
  return {
    oci: interop.toOci,
    systemd: interop.toSystemd,
    k8s: interop.toK8s,
    setpriv: interop.toSetpriv,
    bwrap: (image, choice) =>
      interop.toBwrap(image, { ...choice, callerBounding: ownBounding(), callerUid: process.getuid?.(), callerGid: process.getgid?.() }),
  };
}

export const exportCommand: Command = {
  name: 'export',
  summary: "write a task's identity for OCI (runc), systemd, Kubernetes, setpriv or bwrap",
  synopsis: ['export --to oci|systemd|k8s|setpriv|bwrap [FILE | -] [--task N | --pid P] [--merge CONFIG] [--json] [--strict]'],
  description:
    "Writes one task's identity in the format a container runtime, systemd or a launcher reads. oci: the process and linux parts of a runtime config.json (user, capabilities, noNewPrivileges, user namespace and its maps); systemd: a drop-in [Service] section (User=, Group=, SupplementaryGroups=, CapabilityBoundingSet=, AmbientCapabilities=, SecureBits=, NoNewPrivileges=, PrivateUsers=); k8s: a Pod spec fragment (pod and container securityContext) as YAML; setpriv, bwrap: a shell-quoted 'setpriv ... --' or 'bwrap ... --' prefix to put before a program (bwrap's judged as run by the user running export: its uid, gid and bounding set). FILE defaults to stdin.",
  operands: 'file',
  options: [
    { name: 'to', value: 'FORMAT', choices: ['oci', 'systemd', 'k8s', 'setpriv', 'bwrap'], help: 'the format to write (required)' },
    { name: 'task', value: 'N', help: 'the task at index N (default 0)' },
    { name: 'pid', value: 'P', help: 'the task checkpointed with pid P' },
    { name: 'merge', value: 'CONFIG', help: 'with --to oci: print the bundle config.json CONFIG with the parts merged in' },
    { name: 'json', help: 'print {format, task, value, text, unexpressed} as JSON (k8s: value is the object)' },
    { name: 'strict', help: 'refuse (exit 1, nothing printed) when the format cannot express everything' },
  ],
  notes: ["What the format cannot express (saved and fs ids, securebits it lacks, nested namespaces, unmapped groups, an effective cred apart from the real one, ...) is listed on stderr as 'cr-creds: not expressible in FORMAT: ...' (docs/interop.md).", 'Exit status: 0 written; 1 refused (--strict) or the image is invalid; 2 usage.'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(this, argv);
    const to = values.to as string | undefined;
    const task = values.task as string | undefined;
    const pid = values.pid as string | undefined;
    const merge = values.merge as string | undefined;
    if (to === undefined) throw new UsageError('--to FORMAT is required (oci, systemd, k8s, setpriv or bwrap)');
    const format = to as ExportFormat;
    if (!FORMATS.includes(format)) throw new UsageError(`unknown format '${to}' (oci, systemd, k8s, setpriv or bwrap)`);
    if (positionals.length > 1) throw new UsageError('export takes at most one FILE');
    if (task !== undefined && pid !== undefined) throw new UsageError('--task and --pid exclude each other');
    if (merge !== undefined && format !== 'oci') throw new UsageError('--merge goes with --to oci only');
    const int = (s: string, what: string) => {
      if (!/^\d+$/.test(s)) throw new UsageError(`${what}: not a number: ${s}`);
      return Number(s);
    };
    const choice: TaskChoice = {};
    if (task !== undefined) choice.task = int(task, '--task');
    if (pid !== undefined) choice.pid = int(pid, '--pid');

    const { readImageSource } = await import('../image-files');
    const interop = await import('../../interop');
    const { image } = await readImageSource(positionals[0], io);
    const out = exporters(interop)[format](image, choice);
    if (!values.json) for (const n of out.unexpressed) io.stderr.write(`cr-creds: not expressible in ${format}: ${n.detail}\n`);
    if (values.strict && out.unexpressed.length > 0)
      throw new CliFailure(`--strict: nothing written: ${out.unexpressed.length} ${out.unexpressed.length === 1 ? 'thing' : 'things'} of task ${out.task} cannot be expressed in ${format}${values.json ? ` (${out.unexpressed.map((n) => n.what).join(', ')})` : ''}`);
    let text = out.text;
    if (merge !== undefined) {
      const { readTextInput } = await import('../image-files');
      const configText = await readTextInput(merge, io);
      let config: unknown;
      try {
        config = JSON.parse(configText);
      } catch (e) {
        throw new CliFailure(`${merge}: not JSON: ${(e as Error).message}`);
      }
      if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new CliFailure(`${merge}: not a JSON object`);
      text = JSON.stringify(interop.mergeOci(config as Record<string, unknown>, out.value as Parameters<Interop['mergeOci']>[1]), null, 2) + '\n';
    }
    if (values.json) io.stdout.write(JSON.stringify({ format, task: out.task, value: out.value, text, unexpressed: out.unexpressed }, null, 2) + '\n');
    else io.stdout.write(text);
    return 0;
  },
};
