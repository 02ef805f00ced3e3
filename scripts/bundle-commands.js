#!/usr/bin/env node
// After tsc: one bundle per CLI command, dist/cli/bundles/NAME.js and NAME.src, holding every
// compiled module the command's module reaches by a relative require (at load or on first use).
// Starting a command then resolves, stats and reads two files instead of some thirty, which is
// most of what a command's own start-up costs beside `node -e 0` (scripts/bench-startup.js).
// NAME.js is the loader with an index of the modules (their relative requires resolved here);
// NAME.src is their sources, one after another, read as bytes: node neither parses them as part
// of the loader nor holds them as literals. Each is compiled when first required (as node
// compiles a module file, under its own filename, so stack traces name the module and line): a
// module a run does not need (restart's engine under `restart --help`) costs no parsing.
//
// Each module keeps its identity: it is registered in require.cache under its own filename, so
// a module that is already loaded (by the CLI's entry) is used as it is, and one loaded later
// by path (a library error class, say) is the bundle's. A bundle runs only while every source
// it was made from is as it was (its size, and its modification time as recorded, or the
// bundle's own: npm pack gives every file one mtime); after a plain `tsc` it stands aside and
// the command loads module by module (lib/cli/commands/by-name.ts).
//
// Beside a bundle may lie V8's code cache of its modules, NAME.cache, made after it by a run of
// the command (scripts/train-code-cache.js): the bytecode of every function that run compiled,
// so that a start neither parses nor compiles them again. It is used only while it is as new as
// the bundle and made for the bundle's sizes; V8 itself turns away one made by another version
// or with other flags, and the module is then compiled from its source as without one.
//
//   npx tsc -p tsconfig.build.json && node scripts/bundle-commands.js [DIST]
'use strict';
const fs = require('fs');
const path = require('path');

const dist = path.resolve(process.argv[2] || path.join(__dirname, '..', 'dist'));
const commandsDir = path.join(dist, 'cli', 'commands');
const outDir = path.join(dist, 'cli', 'bundles');
// Not commands: the list of all (help, completion) and the loader by name.
const NOT_COMMANDS = new Set(['index.js', 'by-name.js']);

/** The compiled module a relative require names, as a path relative to dist (posix); null if none. */
function resolveRelative(fromRel, request) {
  const base = path.posix.join(path.posix.dirname(fromRel), request);
  for (const rel of [`${base}.js`, `${base}/index.js`]) if (fs.existsSync(path.join(dist, rel))) return rel;
  return null; // not a compiled module (package.json): required from its file at run time
}

/**
 * Every module reachable from `entry` by relative requires (tsc writes each as require("./x") or
 * require('./x')), each with its requests resolved to the modules they name.
 */
function closure(entry) {
  const modules = new Map();
  const todo = [entry];
  while (todo.length > 0) {
    const rel = todo.pop();
    if (modules.has(rel)) continue;
    const file = path.join(dist, rel);
    const source = fs.readFileSync(file, 'utf8');
    const st = fs.statSync(file);
    const requires = {};
    for (const m of source.matchAll(/\brequire\((["'])(\.{1,2}\/[^"']*)\1\)/g)) {
      const target = resolveRelative(rel, m[2]);
      if (target === null) continue;
      requires[m[2]] = target;
      todo.push(target);
    }
    modules.set(rel, { source, size: st.size, mtimeMs: st.mtimeMs, requires });
  }
  return modules;
}

// The loader every bundle ends with. `load` runs a module of the bundle once, registered in
// require.cache first (so a cycle sees its partial exports, as with node's own loader).
const LOADER = `
const fs = require('fs');
const Module = require('module');
const vm = require('vm');

// Paths are dist's plus a module's path in it (posix, as Linux's): no path work per module.
const dist = __dirname.slice(0, -'cli/bundles'.length);
const base = __filename.slice(0, -'.js'.length);
const own = fs.statSync(__filename);

/**
 * Whether every source is as it was when this bundle was made: its size, and its modification
 * time as it was then, or the bundle's own (npm pack gives every file one time).
 */
function fresh() {
  const made = own.mtimeMs;
  // The sources are read here, once: a bundle that cannot have them stands aside.
  try {
    sources = fs.readFileSync(base + '.src');
  } catch {
    return false;
  }
  if (sources.length !== SOURCES_SIZE) return false;
  for (const rel in defs) {
    const st = fs.statSync(dist + rel, { throwIfNoEntry: false });
    if (st === undefined || st.size !== defs[rel][0] || (st.mtimeMs !== defs[rel][1] && st.mtimeMs !== made)) return false;
  }
  return true;
}

let sources;

// The modules compiled so far, by path in dist: scripts/train-code-cache.js makes the cache from
// them once the command has run.
const compiled = new Map();
module.compiled = compiled;

/**
 * The code cache beside this bundle: { modules: { rel: [offset, length] }, data }, or null. It is
 * code: taken only as the bundle itself would be trusted, owned by us or root and writable by
 * its owner alone.
 */
function readCodeCache() {
  try {
    const st = fs.statSync(base + '.cache', { throwIfNoEntry: false });
    if (st === undefined || st.mtimeMs < own.mtimeMs) return null;
    if ((st.uid !== 0 && st.uid !== process.geteuid()) || (st.mode & 0o022) !== 0) return null;
    const all = fs.readFileSync(base + '.cache');
    const headerLength = all.readUInt32LE(0);
    const header = JSON.parse(all.toString('utf8', 4, 4 + headerLength));
    if (header.bundleSize !== own.size || header.sourcesSize !== sources.length) return null;
    return { modules: header.modules, data: all.subarray(4 + headerLength) };
  } catch {
    return null; // unreadable or cut short: compiled from source
  }
}
let codeCache;

function compile(rel, filename) {
  if (codeCache === undefined) codeCache = readCodeCache();
  const at = codeCache === null ? undefined : codeCache.modules[rel];
  const cachedData = at === undefined ? undefined : codeCache.data.subarray(at[0], at[0] + at[1]);
  // The module's code in its function (written so by the bundler), as node's own wrapper was.
  const script = new vm.Script(sources.toString('utf8', defs[rel][2], defs[rel][2] + defs[rel][3]), { filename, cachedData });
  compiled.set(rel, script);
  return script.runInThisContext();
}

function load(rel, parent) {
  const filename = dist + rel;
  const cached = require.cache[filename];
  if (cached !== undefined) return cached.exports;
  const mod = new Module(filename, parent);
  mod.filename = filename;
  require.cache[filename] = mod;
  const requires = defs[rel][4];
  let outside;
  const req = (request) => {
    if (Object.hasOwn(requires, request)) return load(requires[request], mod);
    if (Module.isBuiltin(request)) return require(request);
    outside ??= Module.createRequire(filename);
    return outside(request);
  };
  try {
    // Compiled when first required, as node compiles a module file: the same wrapper parameters,
    // its own filename in stack traces.
    const fn = compile(rel, filename);
    fn.call(mod.exports, mod.exports, req, mod, filename, filename.slice(0, filename.lastIndexOf('/')));
  } catch (e) {
    delete require.cache[filename];
    throw e;
  }
  mod.loaded = true;
  return mod.exports;
}
`;

// The parameters node gives a module's code.
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) { ';

function bundle(name) {
  const entry = `cli/commands/${name}.js`;
  const modules = closure(entry);
  const bodies = [];
  let offset = 0;
  let out = `'use strict';\n// Generated by scripts/bundle-commands.js: \`cr-creds ${name}\`'s modules (their sources in ${name}.src). Do not edit.\n`;
  // Each module: its size and time as made, where its source lies in NAME.src, its requires.
  out += 'const defs = {\n';
  for (const [rel, m] of modules) {
    const code = m.source.replace(/^#!.*\n/, '\n').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
    // In the function node gives a module's code, opened on its first line: lines keep their numbers.
    const body = Buffer.from(`${WRAPPER_HEAD}${code}\n})`);
    out += `${JSON.stringify(rel)}: [${m.size}, ${m.mtimeMs}, ${offset}, ${body.length}, ${JSON.stringify(m.requires)}],\n`;
    bodies.push(body);
    offset += body.length;
  }
  out += '};\n';
  out += `const SOURCES_SIZE = ${offset};\n`;
  out += LOADER;
  out += `\nmodule.exports = fresh() ? load(${JSON.stringify(entry)}, module) : null;\n`;
  // The sources first: a bundle is never there without them.
  fs.writeFileSync(path.join(outDir, `${name}.src`), Buffer.concat(bodies));
  fs.writeFileSync(path.join(outDir, `${name}.js`), out);
  return { name, modules: modules.size, bytes: out.length + offset };
}

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
const names = fs
  .readdirSync(commandsDir)
  .filter((f) => f.endsWith('.js') && !NOT_COMMANDS.has(f))
  .map((f) => f.slice(0, -3))
  .sort();
for (const name of names) {
  const r = bundle(name);
  if (process.env.VERBOSE) console.log(`${r.name}: ${r.modules} modules, ${r.bytes} bytes`);
}
