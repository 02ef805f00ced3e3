// Argument parsing: node:util's parseArgs, configured from a command's option specs, its
// errors said in our words (never parseArgs' own text) as UsageError (exit 2).
import { parseArgs } from 'util';
import { UsageError, type Command } from './command';

type Values = Record<string, string | boolean | undefined>;

function optionOf(message: string): string {
  const m = /'(-\w, )?(--[\w-]+)/.exec(message) ?? /'(-\w)'/.exec(message);
  return m ? (m[2] ?? m[1]) : '';
}

function usageFrom(e: unknown): UsageError {
  const err = e as Error & { code?: string };
  const opt = optionOf(err.message);
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option '${/'([^']+)'/.exec(err.message)?.[1] ?? opt}'`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(err.message) ? new UsageError(`option '${opt}' takes no value`) : new UsageError(`option '${opt}' needs a value`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument '${/'([^']+)'/.exec(err.message)?.[1] ?? ''}'`);
    default:
      return new UsageError(err.message);
  }
}

/** Parses argv by the command's options (plus -h/--help, handled before run). */
export function parseCommandArgs(cmd: Command, argv: string[]): { values: Values; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const o of cmd.options) options[o.name] = o.short ? { type: o.value ? 'string' : 'boolean', short: o.short } : { type: o.value ? 'string' : 'boolean' };
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    throw usageFrom(e);
  }
}

/** A value among `choices`, or a UsageError naming them. */
export function choice<T extends string>(option: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`unknown ${option} '${value}' (${choices.join(', ')})`);
}
