// The built CLI runs each command from its bundle (scripts/bundle-commands.js): one file read
// for the command's modules, each module still itself (errors thrown in the bundle are the
// classes the entry catches), and a bundle whose sources changed after it was made stands
// aside, so that no stale code runs.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { encode, ImageBuilder } from '../../lib/format';
import { compiledPackage } from '../restart/helpers';

let pkg = '';
let image = '';
beforeAll(() => {
  pkg = compiledPackage('bundles');
  image = path.join(pkg, 'one.img');
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 1000, gid: 1000 }));
  fs.writeFileSync(image, encode(b.build()));
}, 180_000);
afterAll(() => pkg && fs.rmSync(pkg, { recursive: true, force: true }));

const dist = () => path.join(pkg, 'dist');

/** Runs the CLI; `loaded`: the files node's own loader read for it (NODE_DEBUG=module). */
function run(args: string[]): { code: number | null; stdout: string; stderr: string; loaded: string[] } {
  const r = spawnSync(process.execPath, [path.join(dist(), 'cli', 'main.js'), ...args], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'module' } });
  const debug = r.stderr.split('\n').filter((l) => /^MODULE \d+: /.test(l));
  const loaded = debug.flatMap((l) => /^MODULE \d+: load "([^"]+)" for module/.exec(l)?.[1] ?? []);
  const stderr = r.stderr.split('\n').filter((l) => !/^MODULE \d+: /.test(l)).join('\n');
  return { code: r.status, stdout: r.stdout, stderr, loaded: loaded.map((f) => path.relative(dist(), f)) };
}

test('every command has its bundle', () => {
  const commands = fs.readdirSync(path.join(dist(), 'cli', 'commands')).filter((f) => f.endsWith('.js') && f !== 'index.js' && f !== 'by-name.js');
  expect(commands.length).toBeGreaterThan(5);
  const files = fs.readdirSync(path.join(dist(), 'cli', 'bundles'));
  expect(files.filter((f) => f.endsWith('.js')).sort()).toEqual(commands.sort());
  // Each loader with its sources, and the code cache of a run of it.
  expect(files.filter((f) => f.endsWith('.src')).sort()).toEqual(commands.map((f) => f.replace(/\.js$/, '.src')).sort());
  expect(files.filter((f) => f.endsWith('.cache')).sort()).toEqual(commands.map((f) => f.replace(/\.js$/, '.cache')).sort());
});

/**
 * How `args` compiled the bundle's modules: for each, whether V8 took code from the cache
 * ('cache'), turned the cache away ('rejected') or had none for it ('source').
 */
function compiledFrom(args: string[]): { code: number | null; stdout: string; from: Record<string, string> } {
  const report = path.join(pkg, 'report-compiled.js');
  fs.writeFileSync(
    report,
    `process.on('exit', () => {
      const out = {};
      for (const [file, mod] of Object.entries(require.cache))
        if (mod.compiled) for (const [rel, s] of mod.compiled) out[rel] = s.cachedDataRejected === undefined ? 'source' : s.cachedDataRejected ? 'rejected' : 'cache';
      require('fs').writeSync(2, 'COMPILED ' + JSON.stringify(out) + '\\n');
    });`,
  );
  const r = spawnSync(process.execPath, ['-r', report, path.join(dist(), 'cli', 'main.js'), ...args], { encoding: 'utf8' });
  const line = r.stderr.split('\n').find((l) => l.startsWith('COMPILED '));
  return { code: r.status, stdout: r.stdout, from: line ? JSON.parse(line.slice('COMPILED '.length)) : {} };
}

test("a command's modules come from its code cache, and a cache older than its bundle is left alone", () => {
  const cached = compiledFrom(['inspect', image]);
  expect(cached.code).toBe(0);
  const modules = Object.keys(cached.from);
  expect(modules).toContain('cli/commands/inspect.js');
  expect(modules).toContain('format/decode.js');
  expect(new Set(Object.values(cached.from))).toEqual(new Set(['cache']));

  // The bundle remade (or edited) after its cache: compiled from source, the same output.
  const bundle = path.join(dist(), 'cli', 'bundles', 'inspect.js');
  const cacheFile = path.join(dist(), 'cli', 'bundles', 'inspect.cache');
  const kept = fs.statSync(cacheFile);
  fs.utimesSync(bundle, kept.atime, new Date(kept.mtimeMs + 1000));
  const stale = compiledFrom(['inspect', image]);
  expect([stale.code, stale.stdout]).toEqual([0, cached.stdout]);
  expect(new Set(Object.values(stale.from))).toEqual(new Set(['source']));

  // A cache of other bytes than V8's (made by another build, say): turned away, the same output.
  fs.utimesSync(bundle, kept.atime, kept.mtime);
  const good = fs.readFileSync(cacheFile);
  const headerEnd = 4 + good.readUInt32LE(0);
  fs.writeFileSync(cacheFile, Buffer.concat([good.subarray(0, headerEnd), Buffer.alloc(good.length - headerEnd, 0x5a)]));
  fs.utimesSync(cacheFile, kept.atime, kept.mtime);
  const foreign = compiledFrom(['inspect', image]);
  expect([foreign.code, foreign.stdout]).toEqual([0, cached.stdout]);
  expect(new Set(Object.values(foreign.from))).toEqual(new Set(['rejected']));
  fs.writeFileSync(cacheFile, good);
  fs.utimesSync(cacheFile, kept.atime, kept.mtime);

  // Code that others may write is not taken (as a bundle others may write would not be trusted).
  fs.chmodSync(cacheFile, 0o664);
  const writable = compiledFrom(['inspect', image]);
  expect([writable.code, writable.stdout]).toEqual([0, cached.stdout]);
  expect(new Set(Object.values(writable.from))).toEqual(new Set(['source']));
  fs.chmodSync(cacheFile, 0o644);
  expect(new Set(Object.values(compiledFrom(['inspect', image]).from))).toEqual(new Set(['cache']));
});

test('a bundle without its sources stands aside: the command loads module by module', () => {
  const src = path.join(dist(), 'cli', 'bundles', 'encode.src');
  const kept = fs.readFileSync(src);
  fs.rmSync(src);
  try {
    const r = run(['encode', '--help']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^usage: cr-creds encode/);
    expect(r.loaded).toContain('cli/commands/encode.js');
  } finally {
    fs.writeFileSync(src, kept);
  }
});

test('validate and inspect read their modules from the bundle', () => {
  for (const args of [['validate', image], ['inspect', image]]) {
    const r = run(args);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.loaded).toContain(`cli/bundles/${args[0]}.js`);
    // Only the entry's own modules besides: none of the command's.
    expect(r.loaded.filter((f) => !f.startsWith('cli/bundles/')).sort()).toEqual(['cli/commands/by-name.js', 'cli/main.js']);
  }
  expect(run(['inspect', image]).stdout).toMatch(/^image: /);
});

test('every file with one mtime (as npm pack leaves them): the bundle runs', () => {
  const t = new Date('1985-10-26T08:15:00Z');
  const all = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? all(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  for (const f of all(dist())) fs.utimesSync(f, t, t);
  const r = run(['validate', image]);
  expect([r.code, r.stderr]).toEqual([0, '']);
  expect(r.loaded).toContain('cli/bundles/validate.js');
  expect(r.loaded).not.toContain('cli/commands/validate.js');
});

test("the entry catches the bundle's errors as its own: usage (exit 2) and an invalid image (exit 1)", () => {
  const usage = run(['validate']);
  expect([usage.code, usage.stderr.split('\n')[0]]).toEqual([2, 'cr-creds: validate needs at least one FILE']);
  const bad = path.join(pkg, 'bad.img');
  fs.writeFileSync(bad, Buffer.alloc(100));
  const r = run(['inspect', bad]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^cr-creds: ${bad}: `));
  expect(r.loaded).toContain('cli/bundles/inspect.js');
});

test('a bundle whose sources changed stands aside: the changed module runs', () => {
  const file = path.join(dist(), 'cli', 'commands', 'validate.js');
  const before = fs.readFileSync(file, 'utf8');
  expect(before).toContain('validate needs at least one FILE');
  fs.writeFileSync(file, before.replace('validate needs at least one FILE', 'validate needs one FILE or more'));
  const r = run(['validate']);
  expect([r.code, r.stderr.split('\n')[0]]).toEqual([2, 'cr-creds: validate needs one FILE or more']);
  expect(r.loaded).toContain('cli/commands/validate.js');
  // A module deeper down, touched only (same size, modified after the bundle was written): the
  // bundle stands aside too.
  const deep = path.join(dist(), 'format', 'decode.js');
  const made = fs.statSync(path.join(dist(), 'cli', 'bundles', 'inspect.js')).mtime;
  fs.utimesSync(deep, made, new Date(made.getTime() + 1000));
  const r2 = run(['inspect', image]);
  expect([r2.code, r2.stderr]).toEqual([0, '']);
  expect(r2.loaded).toContain('format/decode.js');
  expect(r2.loaded).toContain('cli/commands/inspect.js');
});

test('an edit of the same size with an older time (cp -p, a restored cache) stands aside too', () => {
  const file = path.join(dist(), 'cli', 'commands', 'probe.js');
  const st = fs.statSync(file);
  const before = fs.readFileSync(file, 'utf8');
  const after = before.replace("description: 'Reports", "description: 'REPORTS");
  expect(after.length).toBe(before.length);
  fs.writeFileSync(file, after);
  fs.utimesSync(file, st.atime, new Date(st.mtimeMs - 60_000));
  const p = run(['probe', '--help']);
  expect([p.code, p.stdout]).toEqual([0, expect.stringContaining('REPORTS the kernel release')]);
  expect(p.loaded).toContain('cli/commands/probe.js');
});
