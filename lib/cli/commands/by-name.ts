// Each subcommand's module by the command's name, so that the CLI loads only the one it runs
// (the full list in ./index is for --help and completion). Same names, same order as ./index.
import type { Command } from '../command';

export const commandLoaders: Readonly<Record<string, () => Promise<Command>>> = {
  probe: async () => (await import('./probe')).probe,
  inspect: async () => (await import('./inspect')).inspect,
  validate: async () => (await import('./validate')).validate,
  checkpoint: async () => (await import('./checkpoint')).checkpoint,
  restart: async () => (await import('./restart')).restartCommand,
  convert: async () => (await import('./convert')).convert,
  export: async () => (await import('./export')).exportCommand,
  import: async () => (await import('./import')).importCommand,
  encode: async () => (await import('./encode')).encodeCommand,
  completion: async () => (await import('./completion')).completion,
};

/** The command called `name`, its module loaded; undefined for an unknown name. */
export function loadCommand(name: string): Promise<Command> | undefined {
  return Object.hasOwn(commandLoaders, name) ? commandLoaders[name]() : undefined;
}
