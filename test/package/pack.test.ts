// The published package, as a user gets it: `npm pack`, installed into a fresh project.
// Once with a prebuild and no C++ compiler on PATH (node-gyp-build must pick the prebuild), once
// without a prebuild (the install must compile from source). Both CommonJS and ESM consumers,
// and the declarations must cover every runtime export.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM_CLI = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return run(process.execPath, [NPM_CLI, ...args], cwd, env);
}

/** A PATH holding node and the few tools npm's install scripts use, but no compiler or make. */
function pathWithoutCompiler(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const tool of ['node', 'sh', 'bash', 'env', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'uname']) {
    const found = ['/usr/local/bin', '/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((p) => fs.existsSync(p));
    if (found) fs.symlinkSync(found, path.join(dir, tool));
  }
  for (const cc of ['cc', 'gcc', 'g++', 'c++', 'make', 'cmake', 'python3']) {
    expect(fs.existsSync(path.join(dir, cc))).toBe(false);
  }
  return dir;
}

/** Stages the package (no build/ directory), optionally with a prebuild, and packs it. */
function packStaged(work: string, withPrebuild: boolean): string {
  const stage = path.join(work, withPrebuild ? 'stage-prebuilt' : 'stage-source');
  fs.mkdirSync(stage, { recursive: true });
  for (const f of ['package.json', 'binding.gyp', 'CMakeLists.txt', 'README.md', 'LICENSE', 'native', 'docs', 'man']) {
    fs.cpSync(path.join(ROOT, f), path.join(stage, f), { recursive: true });
  }
  // dist/ compiled from the current sources (what `prepare` does on publish).
  run(process.execPath, [TSC, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(stage, 'dist')], ROOT);
  run(process.execPath, [path.join(ROOT, 'scripts', 'bundle-commands.js'), path.join(stage, 'dist')], ROOT);
  run(process.execPath, [path.join(ROOT, 'scripts', 'train-code-cache.js'), path.join(stage, 'dist')], ROOT);
  // The stage's own node_modules: a link to the repo's, for prebuildify and node-addon-api.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'));
  if (withPrebuild) {
    run(process.execPath, [path.join(ROOT, 'node_modules', 'prebuildify', 'bin.js'), '--napi', '--strip'], stage);
    expect(fs.readdirSync(path.join(stage, 'prebuilds', `linux-${os.arch()}`))).toContain('cr-creds.node');
  }
  // --ignore-scripts: dist/ is already built; `prepare` would need the dev toolchain.
  const out = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], stage);
  const info = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = info[0].files.map((f) => f.path);
  expect(files).toContain('dist/index.js');
  expect(files).toContain('dist/index.d.ts');
  expect(files).toContain('native/addon.cc');
  expect(files.some((f) => f.startsWith('build/'))).toBe(false);
  // Each command's bundle ships; V8's code cache of it does not (it fits one Node version only).
  expect(files).toContain('dist/cli/bundles/checkpoint.js');
  expect(files).toContain('dist/cli/bundles/checkpoint.src');
  expect(fs.existsSync(path.join(stage, 'dist', 'cli', 'bundles', 'validate.cache'))).toBe(true);
  expect(files.filter((f) => f.endsWith('.cache'))).toEqual([]);
  // What a user reads, and nothing of the development tools or test hooks.
  for (const f of ['LICENSE', 'man/cr-creds.1', 'docs/api.md', 'docs/restart.md']) expect(files).toContain(f);
  expect(files.filter((f) => /^dist\/agreement\/|^dist\/format\/mutate\.|\/testing\.(js|d\.ts)$|\.map$/.test(f))).toEqual([]);
  // ... and no shipped module loads one of them (or anything else left out): every relative
  // require of a shipped file names a shipped file.
  const unshipped: string[] = [];
  for (const f of files.filter((x) => x.startsWith('dist/') && x.endsWith('.js'))) {
    for (const m of fs.readFileSync(path.join(stage, f), 'utf8').matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
      const to = path.posix.join(path.posix.dirname(f), m[1]);
      if (![`${to}.js`, `${to}/index.js`, to].some((c) => files.includes(c))) unshipped.push(`${f} -> ${m[1]}`);
    }
  }
  expect(unshipped).toEqual([]);
  // README's links into docs/ resolve inside the package.
  for (const m of fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').matchAll(/\]\((docs\/[^)#]+)/g)) expect(files).toContain(m[1]);
  expect(files.some((f) => f.startsWith('prebuilds/'))).toBe(withPrebuild);
  return path.join(work, info[0].filename);
}

function consumer(work: string, name: string, tarball: string, env: NodeJS.ProcessEnv): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], dir, env);
  return dir;
}

function checkConsumers(dir: string): void {
  const installed = path.join(dir, 'node_modules', 'cr-creds');
  // The CLI through its bin link.
  const probe = JSON.parse(run(process.execPath, [path.join(dir, 'node_modules', '.bin', 'cr-creds'), 'probe', '--json'], dir));
  expect(probe.release).toBe(os.release());

  // CommonJS and ESM see the same named exports.
  fs.writeFileSync(path.join(dir, 'c.cjs'), "const m = require('cr-creds'); console.log(JSON.stringify(Object.keys(m).sort()));");
  fs.writeFileSync(path.join(dir, 'e.mjs'), "import * as m from 'cr-creds'; console.log(JSON.stringify(Object.keys(m).filter(k => k !== 'default' && k !== '__esModule').sort()));");
  const cjsKeys = JSON.parse(run(process.execPath, ['c.cjs'], dir)) as string[];
  const esmKeys = JSON.parse(run(process.execPath, ['e.mjs'], dir)) as string[];
  expect(esmKeys).toEqual(cjsKeys);
  expect(cjsKeys).not.toContain('native');
  fs.writeFileSync(path.join(dir, 'n.mjs'), "import { probe } from 'cr-creds'; console.log(probe().release);");
  expect(run(process.execPath, ['n.mjs'], dir).trim()).toBe(os.release());
  // No subpath but the documented ones.
  fs.writeFileSync(path.join(dir, 's.cjs'), "try { require('cr-creds/dist/restart'); console.log('open'); } catch (e) { console.log(e.code); }");
  expect(run(process.execPath, ['s.cjs'], dir).trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');

  // Declarations cover every runtime export: a TypeScript consumer naming each one compiles.
  const lines = cjsKeys.map((k) => `void m.${k};`);
  fs.writeFileSync(path.join(dir, 'consumer.ts'), `import * as m from 'cr-creds';\n${lines.join('\n')}\n`);
  run(process.execPath, [TSC, '--noEmit', '--strict',
    '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), 'consumer.ts'], dir);
  expect(fs.existsSync(installed)).toBe(true);
}

describe('npm package', () => {
  let work: string;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-pack-'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test('installs and runs from its prebuild on a machine with no C++ compiler', () => {
    const tarball = packStaged(work, true);
    const env = { ...process.env, PATH: pathWithoutCompiler(path.join(work, 'bin-nocc')) };
    const dir = consumer(work, 'with-prebuild', tarball, env);
    const installed = path.join(dir, 'node_modules', 'cr-creds');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false); // nothing was compiled
    expect(run(process.execPath, ['-p', "require('node-gyp-build').resolve('.')"], installed).trim())
      .toBe(path.join(installed, 'prebuilds', `linux-${os.arch()}`, 'cr-creds.node'));
    checkConsumers(dir);
  }, 300_000);

  test('compiles from source when no prebuild fits', () => {
    const tarball = packStaged(work, false);
    const dir = consumer(work, 'from-source', tarball, process.env);
    const installed = path.join(dir, 'node_modules', 'cr-creds');
    expect(fs.existsSync(path.join(installed, 'build', 'Release', 'cr_creds.node'))).toBe(true);
    checkConsumers(dir);
  }, 300_000);
});
