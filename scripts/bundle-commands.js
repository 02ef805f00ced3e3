#!/usr/bin/env node
// After tsc: one file per CLI command, dist/cli/bundles/NAME.js, holding the source of every
// compiled module the command's module reaches by a relative require (at load or on first use).
// Starting a command then resolves, stats and reads one file instead of some thirty, which is
// most of what a command's own start-up costs beside `node -e 0` (scripts/bench-startup.js).
// The sources are kept as strings and compiled when first required (as node compiles a module
// file, under its own filename, so stack traces name the module and line): a module a run does
// not need (restart's engine under `restart --help`) costs no parsing.
//
// Each module keeps its identity: it is registered in require.cache under its own filename, so
// a module that is already loaded (by the CLI's entry) is used as it is, and one loaded later
// by path (a library error class, say) is the bundle's. A bundle runs only while every source
// it was made from is as it was (its size, and its modification time as recorded, or the
// bundle's own: npm pack gives every file one mtime); after a plain `tsc` it stands aside and
// the command loads module by module (lib/cli/commands/by-name.ts).
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

/** Every module reachable from `entry` by relative requires (tsc writes each as require("./x") or require('./x')). */
function closure(entry) {
  const modules = new Map();
  const todo = [entry];
  while (todo.length > 0) {
    const rel = todo.pop();
    if (modules.has(rel)) continue;
    const file = path.join(dist, rel);
    const source = fs.readFileSync(file, 'utf8');
    const st = fs.statSync(file);
    modules.set(rel, { source, size: st.size, mtimeMs: st.mtimeMs });
    for (const m of source.matchAll(/\brequire\((["'])(\.{1,2}\/[^"']*)\1\)/g)) {
      const target = resolveRelative(rel, m[2]);
      if (target !== null) todo.push(target);
    }
  }
  return modules;
}

// The loader every bundle ends with. `load` runs a module of the bundle once, registered in
// require.cache first (so a cycle sees its partial exports, as with node's own loader).
const LOADER = `
const fs = require('fs');
const path = require('path');
const Module = require('module');
const vm = require('vm');

const dist = path.join(__dirname, '..', '..');

/**
 * Whether every source is as it was when this bundle was made: its size, and its modification
 * time as it was then, or the bundle's own (npm pack gives every file one time).
 */
function fresh() {
  const made = fs.statSync(__filename).mtimeMs;
  for (const rel in defs) {
    const st = fs.statSync(path.join(dist, rel), { throwIfNoEntry: false });
    if (st === undefined || st.size !== defs[rel][0] || (st.mtimeMs !== defs[rel][1] && st.mtimeMs !== made)) return false;
  }
  return true;
}

function load(rel, parent) {
  const filename = path.join(dist, rel);
  const cached = require.cache[filename];
  if (cached !== undefined) return cached.exports;
  const dirname = path.dirname(filename);
  const mod = new Module(filename, parent);
  mod.filename = filename;
  require.cache[filename] = mod;
  let outside;
  const req = (request) => {
    if (request.startsWith('./') || request.startsWith('../')) {
      const base = path.posix.join(path.posix.dirname(rel), request);
      if (Object.hasOwn(defs, base + '.js')) return load(base + '.js', mod);
      if (Object.hasOwn(defs, base + '/index.js')) return load(base + '/index.js', mod);
    }
    if (Module.isBuiltin(request)) return require(request);
    outside ??= Module.createRequire(filename);
    return outside(request);
  };
  try {
    // Compiled when first required, as node compiles a module file: the same wrapper parameters,
    // its own filename in stack traces.
    const fn = vm.compileFunction(defs[rel][2], ['exports', 'require', 'module', '__filename', '__dirname'], { filename });
    fn.call(mod.exports, mod.exports, req, mod, filename, dirname);
  } catch (e) {
    delete require.cache[filename];
    throw e;
  }
  mod.loaded = true;
  return mod.exports;
}
`;

function bundle(name) {
  const entry = `cli/commands/${name}.js`;
  const modules = closure(entry);
  let out = `'use strict';\n// Generated by scripts/bundle-commands.js: \`cr-creds ${name}\`'s modules in one file. Do not edit.\n`;
  out += 'const defs = {\n';
  for (const [rel, m] of modules) {
    const body = m.source.replace(/^#!.*\n/, '\n').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
    out += `${JSON.stringify(rel)}: [${m.size}, ${m.mtimeMs}, ${JSON.stringify(body)}],\n`;
  }
  out += '};\n';
  out += LOADER;
  out += `\nmodule.exports = fresh() ? load(${JSON.stringify(entry)}, module) : null;\n`;
  fs.writeFileSync(path.join(outDir, `${name}.js`), out);
  return { name, modules: modules.size, bytes: out.length };
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
