// `cr-creds import`: an image from an OCI config, a systemd unit or a Kubernetes object, so a
// restart starts a program as that runtime would (docs/interop.md).
import { parseCommandArgs } from '../args';
import { CliFailure, UsageError, type Command } from '../command';
import type { ImportFormat, Imported } from '../../interop';

function json(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliFailure(`${name}: not JSON: ${(e as Error).message}`);
  }
}

export const importCommand: Command = {
  name: 'import',
  summary: 'make an image from an OCI config.json, a systemd unit or a Kubernetes securityContext',
  synopsis: ['import --from oci|systemd|k8s FILE|- -o IMAGE [--container NAME] [--quiet]'],
  description:
    "Makes an image of one task from a spec: an OCI runtime config.json (process.user, process.capabilities, process.noNewPrivileges, linux.namespaces user with uidMappings/gidMappings), a systemd unit file or drop-in ([Service] User=, Group=, SupplementaryGroups=, CapabilityBoundingSet=, AmbientCapabilities=, SecureBits=, NoNewPrivileges=, PrivateUsers=), or a Kubernetes Pod, PodSpec, Container or SecurityContext as YAML (the first document) or JSON. The task holds the creds the runtime sets right before it execs the program; 'cr-creds restart IMAGE --dry-run -- CMD' explains what the program then runs with.",
  operands: 'file',
  options: [
    { name: 'from', value: 'FORMAT', choices: ['oci', 'systemd', 'k8s'], help: 'the format of FILE (required)' },
    { name: 'output', short: 'o', value: 'IMAGE', help: "the image to write (required); '-': stdout" },
    { name: 'container', value: 'NAME', help: 'with --from k8s: the container to take (default: the first)' },
    { name: 'quiet', help: 'do not list the defaults taken and the settings ignored' },
  ],
  notes: ["What the spec leaves to defaults is listed on stderr as 'cr-creds: assumed: ...' (docs/interop.md).", 'Exit status: 0 written; 1 the spec cannot be read or states what no image can hold; 2 usage.'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(this, argv);
    const output = values.output as string | undefined;
    const container = values.container as string | undefined;
    const fromFormat = values.from as string | undefined;
    const format = fromFormat as ImportFormat | undefined;
    if (format === undefined) throw new UsageError('--from FORMAT is required (oci, systemd or k8s)');
    if (!['oci', 'systemd', 'k8s'].includes(format)) throw new UsageError(`unknown format '${format}' (oci, systemd or k8s)`);
    if (positionals.length !== 1) throw new UsageError('import takes one FILE (or - for stdin)');
    if (output === undefined) throw new UsageError('-o IMAGE is required');
    if (container !== undefined && format !== 'k8s') throw new UsageError('--container goes with --from k8s only');
    const { checkImageOutput, writeImageOutput } = await import('../image-files');
    checkImageOutput(io, output);
    const { fromK8s, fromOci, fromSystemd, fromYaml } = await import('../../interop');
    const { encode } = await import('../../format/encode');
    const name = positionals[0] === '-' ? '<stdin>' : positionals[0];
    const { readTextInput } = await import('../image-files');
    const text = await readTextInput(positionals[0], io);
    let r: Imported;
    if (format === 'oci') r = fromOci(json(text, name));
    else if (format === 'k8s') r = fromK8s(text.trimStart().startsWith('{') ? json(text, name) : fromYaml(text), { container: container });
    else r = fromSystemd(text);
    if (!values.quiet) {
      for (const a of r.assumed) io.stderr.write(`cr-creds: assumed: ${a.detail}\n`);
      for (const a of r.ignored) io.stderr.write(`cr-creds: ignored: ${a.detail}\n`);
    }
    await writeImageOutput(io, output, encode(r.image));
    return 0;
  },
};
