// Argument parsing is node:util's parseArgs; this turns its errors into UsageError (exit 2).
import { isDialect, type Dialect } from '../format/dialects';
import { UsageError } from './command';

/** Usage: `const { values } = usageErrors(() => parseArgs({ args: argv, options: {...} }))`. */
export function usageErrors<R>(parse: () => R): R {
  try {
    return parse();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The value of --dialect (v21 or v23), or undefined when not given. */
export function dialectOption(value: string | undefined): Dialect | undefined {
  if (value === undefined) return undefined;
  if (!isDialect(value)) throw new UsageError(`unknown --dialect '${value}' (v21 or v23)`);
  return value;
}
