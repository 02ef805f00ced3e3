// The CLI's subcommands, in the order `cr-creds --help` lists them. Each module holds its data
// (synopsis, options, help) and loads what it runs only when it runs.
import type { Command } from '../command';
import { probe } from './probe';
import { inspect } from './inspect';
import { validate } from './validate';
import { checkpoint } from './checkpoint';
import { restartCommand } from './restart';
import { convert } from './convert';
import { exportCommand } from './export';
import { importCommand } from './import';
import { encodeCommand } from './encode';
import { completion } from './completion';

export const commands: readonly Command[] = [probe, inspect, validate, checkpoint, restartCommand, convert, exportCommand, importCommand, encodeCommand, completion];
