#!/usr/bin/env node
// After scripts/bundle-commands.js: runs each CLI command once on sample input and keeps, beside
// its bundle, V8's code cache of the modules the run compiled (dist/cli/bundles/NAME.cache). A
// later start of the command reads the bytecode instead of parsing and compiling its modules.
// Run by build:ts and prepare, after the addon is built (npm runs install before prepare);
// without it, the runs that need it fail and their commands simply start without a cache.
// A cache fits the one Node (V8 version and flags) that made it, so the npm package does not
// ship them (package.json "files"): they serve the checkout they were built in.
//
//   node scripts/train-code-cache.js [DIST]        (quiet; VERBOSE=1 lists the caches)
//
// Each run is the CLI itself (dist/cli/main.js) in a child with this file preloaded (-r): at
// its exit, with status 0 only, the preload writes the caches of the bundles it loaded.
'use strict';
const fs = require('fs');
const path = require('path');

/** A cache file's modules (rel -> bytes) when it was made for these sizes; empty otherwise. */
function readCache(file, bundleSize, sourcesSize) {
  const out = new Map();
  if (!fs.existsSync(file)) return out;
  const all = fs.readFileSync(file);
  const headerLength = all.readUInt32LE(0);
  const header = JSON.parse(all.toString('utf8', 4, 4 + headerLength));
  if (header.bundleSize !== bundleSize || header.sourcesSize !== sourcesSize) return out;
  const data = all.subarray(4 + headerLength);
  for (const [rel, [offset, length]] of Object.entries(header.modules)) out.set(rel, data.subarray(offset, offset + length));
  return out;
}

/**
 * In the preloaded child: at a clean exit, the cache of every bundle this process ran, added to
 * what earlier runs of the same command left (a module compiled again replaces its entry).
 */
function writeCachesAtExit(dist) {
  const bundles = path.join(dist, 'cli', 'bundles') + path.sep;
  // V8 files a cache under the flags in force when it is made, and turns it away under others:
  // the heap flags a command sets for big inputs (lib/cli/heap-flags.ts) are not set while
  // training, so that the caches fit a start, where they are not set yet either.
  require('v8').setFlagsFromString = () => {};
  process.on('exit', (code) => {
    if (code !== 0) return;
    for (const [file, mod] of Object.entries(require.cache)) {
      if (!file.startsWith(bundles) || !(mod.compiled instanceof Map)) continue;
      const base = file.slice(0, -'.js'.length);
      const bundleSize = fs.statSync(file).size;
      const sourcesSize = fs.statSync(base + '.src').size;
      const entries = readCache(base + '.cache', bundleSize, sourcesSize);
      for (const [rel, script] of mod.compiled) entries.set(rel, script.createCachedData());
      const modules = {};
      let offset = 0;
      for (const [rel, data] of entries) {
        modules[rel] = [offset, data.length];
        offset += data.length;
      }
      const header = Buffer.from(JSON.stringify({ bundleSize, sourcesSize, modules }));
      const length = Buffer.alloc(4);
      length.writeUInt32LE(header.length);
      // Writable by its owner alone, whatever the umask: the loader takes no other.
      fs.writeFileSync(base + '.cache', Buffer.concat([length, header, ...entries.values()]), { mode: 0o644 });
      fs.chmodSync(base + '.cache', 0o644);
    }
  });
}

/** The sample inputs, and each command's run over them (its argv, and a file its stdout goes to). */
function runs(dist, tmp, targetPid) {
  const { ImageBuilder, encode } = require(path.join(dist, 'format'));
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 1000, gid: 1000, groups: [27, 100] }));
  const image = path.join(tmp, 'sample.img');
  fs.writeFileSync(image, encode(b.build()));
  const at = (name) => path.join(tmp, name);
  return [
    // Checkpoint first: a build that may not read securebits over ptrace trains the rest of it.
    { name: 'checkpoint', argv: ['checkpoint', String(targetPid), '-o', at('live.img')], fallback: ['--skip-securebits'] },
    { name: 'inspect', argv: ['inspect', '--json', image], stdout: at('sample.json') },
    { name: 'inspect', argv: ['inspect', image] },
    { name: 'validate', argv: ['validate', image] },
    { name: 'restart', argv: ['restart', '--dry-run', image, '--', '/bin/true'] },
    { name: 'convert', argv: ['convert', '--to', 'criu', image, '-o', at('criu')] },
    { name: 'export', argv: ['export', '--to', 'oci', image], stdout: at('oci.json') },
    { name: 'import', argv: ['import', '--from', 'oci', at('oci.json'), '-o', at('imported.img'), '--quiet'] },
    { name: 'encode', argv: ['encode', at('sample.json'), '-o', at('encoded.img')] },
    { name: 'probe', argv: ['probe'] },
    { name: 'completion', argv: ['completion', 'bash'] },
  ];
}

function train(dist) {
  const { spawn, spawnSync } = require('child_process');
  const os = require('os');
  const main = path.join(dist, 'cli', 'main.js');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-train-'));
  const target = spawn('sleep', ['60'], { stdio: 'ignore' });
  target.on('error', () => {}); // no sleep: the checkpoint run fails and says so below
  const missed = [];
  try {
    for (const run of runs(dist, tmp, target.pid)) {
      const attempt = (extra) => {
        const out = run.stdout ? fs.openSync(run.stdout, 'w') : 'ignore';
        try {
          return spawnSync(process.execPath, ['-r', __filename, main, ...run.argv, ...extra], {
            env: { ...process.env, CR_CREDS_TRAIN_DIST: dist },
            stdio: ['ignore', out, 'pipe'],
            encoding: 'utf8',
            timeout: 60_000,
          });
        } finally {
          if (typeof out === 'number') fs.closeSync(out);
        }
      };
      let r = attempt([]);
      if (r.status !== 0 && run.fallback) r = attempt(run.fallback);
      if (r.status !== 0) missed.push(`${run.name} (${r.error ? r.error.message : `exit ${r.status}: ${(r.stderr || '').trim().split('\n')[0]}`})`);
    }
  } finally {
    target.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (process.env.VERBOSE) {
    const bundles = path.join(dist, 'cli', 'bundles');
    const made = fs.readdirSync(bundles).filter((f) => f.endsWith('.cache'));
    console.log(`code cache: ${made.map((f) => `${f} ${Math.round(fs.statSync(path.join(bundles, f)).size / 1024)} KB`).join(', ')}`);
  }
  if (missed.length > 0) console.log(`code cache: runs that failed (what they would have compiled is compiled at start): ${missed.join('; ')}`);
}

// The real path: the preload compares it with the bundles' own (require.cache holds real paths).
if (require.main === module) train(fs.realpathSync(path.resolve(process.argv[2] || path.join(__dirname, '..', 'dist'))));
else if (process.env.CR_CREDS_TRAIN_DIST) writeCachesAtExit(process.env.CR_CREDS_TRAIN_DIST);
