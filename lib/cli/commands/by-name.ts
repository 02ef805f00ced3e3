// Each subcommand's module by the command's name, so that the CLI loads only the one it runs
// (the full list in ./index is for --help and completion). Same names, same order as ./index.
import type { Command } from '../command';

/**
 * A command's module from its bundle where the build made one (dist/cli/bundles, by
 * scripts/bundle-commands.js): one file to read at start instead of some thirty. undefined
 * without one (tests, a plain tsc build) or when it is stale: then the module itself is loaded.
 */
function fromBundle<T>(name: string): T | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require(`../bundles/${name}`) as T | null) ?? undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && (e as Error).message.includes(`bundles/${name}'`)) return undefined;
    throw e;
  }
}

export const commandLoaders: Readonly<Record<string, () => Promise<Command>>> = {
  probe: async () => (fromBundle<typeof import('./probe')>('probe') ?? (await import('./probe'))).probe,
  inspect: async () => (fromBundle<typeof import('./inspect')>('inspect') ?? (await import('./inspect'))).inspect,
  validate: async () => (fromBundle<typeof import('./validate')>('validate') ?? (await import('./validate'))).validate,
  checkpoint: async () => (fromBundle<typeof import('./checkpoint')>('checkpoint') ?? (await import('./checkpoint'))).checkpoint,
  restart: async () => (fromBundle<typeof import('./restart')>('restart') ?? (await import('./restart'))).restartCommand,
  convert: async () => (fromBundle<typeof import('./convert')>('convert') ?? (await import('./convert'))).convert,
  export: async () => (fromBundle<typeof import('./export')>('export') ?? (await import('./export'))).exportCommand,
  import: async () => (fromBundle<typeof import('./import')>('import') ?? (await import('./import'))).importCommand,
  encode: async () => (fromBundle<typeof import('./encode')>('encode') ?? (await import('./encode'))).encodeCommand,
  completion: async () => (fromBundle<typeof import('./completion')>('completion') ?? (await import('./completion'))).completion,
};

/** The command called `name`, its module loaded; undefined for an unknown name. */
export function loadCommand(name: string): Promise<Command> | undefined {
  return Object.hasOwn(commandLoaders, name) ? commandLoaders[name]() : undefined;
}
