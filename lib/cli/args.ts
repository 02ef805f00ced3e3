// Argument parsing is node:util's parseArgs; this turns its errors into UsageError (exit 2).
import { UsageError } from './command';

/** Usage: `const { values } = usageErrors(() => parseArgs({ args: argv, options: {...} }))`. */
export function usageErrors<R>(parse: () => R): R {
  try {
    return parse();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
