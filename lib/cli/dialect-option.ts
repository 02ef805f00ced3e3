// --dialect's value, apart from args.ts: only the commands that take it load the dialect table.
import { isDialect, type Dialect } from '../format/dialects';
import { UsageError } from './command';

/** --dialect's value: v21 or v23 (or none). */
export function dialectOption(value: string | undefined): Dialect | undefined {
  if (value === undefined) return undefined;
  if (!isDialect(value)) throw new UsageError(`unknown --dialect '${value}' (v21 or v23)`);
  return value;
}
