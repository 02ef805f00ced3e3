// The `cleanup` option: programs still running when this process exits are sent their
// killSignal. One 'exit' listener for all of them, there only while one is running. An exit
// by a signal runs no JS: the `dieWithParent` kind of guarantee is the kernel's, not this.
const live = new Set<() => void>();

function onExit(): void {
  for (const kill of live) kill();
}

/** Registers `kill` to run at process exit; returns its removal. */
export function killOnExit(kill: () => void): () => void {
  if (live.size === 0) process.on('exit', onExit);
  live.add(kill);
  return () => {
    live.delete(kill);
    if (live.size === 0) process.off('exit', onExit);
  };
}
