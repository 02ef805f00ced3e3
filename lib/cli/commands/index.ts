// The CLI's subcommands, in the order `cr-creds --help` lists them.
import type { Command } from '../command';
import { probe } from './probe';

export const commands: readonly Command[] = [probe];
