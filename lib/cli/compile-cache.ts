// Imported first by the CLI's entry: where Node has it (22 and later), compiled code is cached
// on disk, so that a second start of the CLI skips most of the parsing. Only when the CLI is the
// program (not when a test loads main in-process).
import * as nodeModule from 'module';

const entry = require.main?.filename ?? '';
if (/[\\/]cli[\\/]main\.js$/.test(entry)) (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
