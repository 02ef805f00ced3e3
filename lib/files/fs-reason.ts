// An fs error's reason as the CLI says it: node's message without the paths it names (a temp
// file's name means nothing to the user; the caller names the file it was asked for).
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return (err?.message ?? String(e)).replace(/, \w+ '[^']*'( -> '[^']*')?$/, '');
}
