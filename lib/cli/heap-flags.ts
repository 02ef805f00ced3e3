// The CLI's own V8 heap settings (never the library's). A command on a huge image keeps its
// tasks alive to the end, so young objects mostly survive: a young generation that grows buys
// nothing but resident memory. Kept at its initial size, the scavenger runs more often and the
// peak RSS stays lower.
// Set by a command on its way into work that may be big (an image read as a stream, a text
// input, many tasks), not at start: node's v8 module loads the stream modules, start-up time a
// small input never needs. V8 reads the flag whenever the young generation would grow, so it
// holds from then on.

let set = false;

export function setCliHeapFlags(): void {
  if (set) return;
  set = true;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  (require('v8') as typeof import('v8')).setFlagsFromString('--semi-space-growth-factor=1');
}
