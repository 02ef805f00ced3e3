// The progress reporter: a terminal gets throttled in-place updates erased at the end; a pipe,
// CI and --quiet get nothing; --progress forces plain lines onto a pipe.
import { PassThrough, Writable } from 'stream';
import { isCi, Progress, progressFor, withProgress } from '../../lib/cli/progress';

/** A Writable that records what is written; isTTY as asked (a fake terminal). */
function stream(isTTY: boolean, columns?: number): { s: Writable; writes: string[] } {
  const writes: string[] = [];
  const s = new Writable({
    write(chunk, _enc, cb) {
      writes.push(String(chunk));
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  if (isTTY) s.isTTY = true;
  if (columns) s.columns = columns;
  return { s, writes };
}

function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('a terminal: updates appear in place, throttled to 10 a second, erased at the end', () => {
  const { s, writes } = stream(true);
  const c = clock();
  const p = new Progress(s, { env: {}, now: c.now });
  expect(p.mode).toBe('tty');
  p.count('reading processes:', 0, 300);
  expect(writes).toEqual(['\rreading processes: 0/300 (0%)\x1b[K']);
  for (let i = 1; i <= 50; i++) p.count('reading processes:', i, 300); // same instant: held back
  expect(writes).toHaveLength(1);
  c.advance(100);
  p.count('reading processes:', 51, 300);
  expect(writes.at(-1)).toBe('\rreading processes: 51/300 (17%)\x1b[K');
  // A second of updates every millisecond: at most 10 writes.
  const before = writes.length;
  for (let i = 0; i < 1000; i++) {
    c.advance(1);
    p.count('reading processes:', 52 + (i % 200), 300);
  }
  expect(writes.length - before).toBeLessThanOrEqual(10);
  expect(writes.length - before).toBeGreaterThanOrEqual(9);
  p.end();
  expect(writes.at(-1)).toBe('\r\x1b[K');
  // After the end: silent.
  c.advance(1000);
  p.update('late');
  p.end();
  expect(writes.at(-1)).toBe('\r\x1b[K');
  expect(writes.filter((w) => w === '\r\x1b[K')).toHaveLength(1);
  expect(p.enabled).toBe(false);
});

test('a terminal: unchanged text is not rewritten; lines fit the width; controls are blanked', () => {
  const { s, writes } = stream(true, 20);
  const c = clock();
  const p = new Progress(s, { env: {}, now: c.now });
  p.update('finding processes: 1');
  c.advance(500);
  p.update('finding processes: 1');
  expect(writes).toEqual(['\rfinding processes:…\x1b[K']);
  c.advance(500);
  p.update('a\nb\x1b[2J');
  expect(writes.at(-1)).toBe('\ra b [2J\x1b[K');
  p.end();
  expect(writes.at(-1)).toBe('\r\x1b[K');
});

test('nothing was shown, nothing to erase', () => {
  const { s, writes } = stream(true);
  const p = new Progress(s, { env: {} });
  p.end();
  expect(writes).toEqual([]);
});

test.each([
  ['a pipe', false, {}, {}],
  ['CI=true on a terminal', true, { CI: 'true' }, {}],
  ['CI=1 on a terminal', true, { CI: '1' }, {}],
  ['--quiet on a terminal', true, {}, { quiet: true }],
  ['--quiet with --progress', true, {}, { quiet: true, force: true }],
])('%s: nothing at all', (_what, tty, env, flags) => {
  const { s, writes } = stream(tty);
  const c = clock();
  const p = new Progress(s, { env, now: c.now, ...flags });
  expect(p.mode).toBe('off');
  expect(p.enabled).toBe(false);
  for (let i = 0; i < 100; i++) {
    c.advance(50);
    p.count('reading processes:', i, 100);
  }
  p.end();
  expect(writes).toEqual([]);
});

test('CI values that do not count', () => {
  expect(isCi({})).toBe(false);
  expect(isCi({ CI: '' })).toBe(false);
  expect(isCi({ CI: 'false' })).toBe(false);
  expect(isCi({ CI: '0' })).toBe(false);
  expect(isCi({ CI: 'woodpecker' })).toBe(true);
  const { s, writes } = stream(true);
  new Progress(s, { env: { CI: 'false' } }).update('shown');
  expect(writes).toHaveLength(1);
});

test('--progress on a pipe (or under CI): plain lines, at most one a second, the last state at the end', () => {
  const { s, writes } = stream(false);
  const c = clock();
  const p = new Progress(s, { env: { CI: 'true' }, force: true, now: c.now });
  expect(p.mode).toBe('lines');
  for (let i = 0; i <= 300; i++) {
    c.advance(10);
    p.count('reading processes:', i, 300);
  }
  p.end();
  expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r') && !w.includes('\x1b'))).toBe(true);
  expect(writes.length).toBeLessThanOrEqual(5);
  expect(writes[0]).toBe('reading processes: 0/300 (0%)\n');
  expect(writes.at(-1)).toBe('reading processes: 300/300 (100%)\n');
});

test('--progress on a terminal under CI: in place', () => {
  const { s, writes } = stream(true);
  const p = new Progress(s, { env: { CI: 'true' }, force: true });
  p.update('x');
  p.end();
  expect(writes).toEqual(['\rx\x1b[K', '\r\x1b[K']);
});

test('progressFor reads the CLI io (stderr, env); withProgress erases even when the work throws', async () => {
  const err = stream(true);
  const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: err.s, isTTY: true, env: {} };
  const p = progressFor(io, {});
  expect(p.mode).toBe('tty');
  await expect(
    withProgress(p, async (q) => {
      q.update('working');
      throw new Error('boom');
    }),
  ).rejects.toThrow('boom');
  expect(err.writes).toEqual(['\rworking\x1b[K', '\r\x1b[K']);
  expect(progressFor({ ...io, env: { CI: 'yes' } }, {}).mode).toBe('off');
  expect(progressFor({ ...io, stderr: stream(false).s }, {}).mode).toBe('off');
  expect(progressFor({ ...io, stderr: stream(false).s }, { progress: true }).mode).toBe('lines');
});
