// The CLI as people expect of setpriv, crit, runc: every option explained by --help, -V, one
// message style (no parseArgs text, no temp-file names, a vanished process said one way, a
// refused read that says why), `validate -`, a quiet end when the reader of stdout goes away,
// restart --dry-run in 100 columns, probe's known securebits, and completion scripts that the
// real bash and zsh accept and that complete.
import { execFileSync, spawn, spawnSync } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { commands } from '../../lib/cli/commands';
import { ImageBuilder, encode } from '../../lib/format';
import { native } from '../../lib/native/binding';
import { compiledPackage } from '../restart/helpers';
import { cli } from './io';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the CLI process tests must not skip');
const rootTest = isRoot ? test : test.skip;
const me = native().readThreadCreds();

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-ux-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function image(uid = 1000): Uint8Array {
  const b = new ImageBuilder();
  const ns = b.namespace(b.user(0), {
    uidMap: [{ inside: 0, outside: 100000, count: 65536 }],
    gidMap: [{ inside: 0, outside: 100000, count: 65536 }],
    setgroups: 'allow',
  });
  const nbs = 1n << 10n;
  b.task(b.cred({ uid, gid: uid, groups: [27, 100], user: b.user(uid, ns), caps: { bounding: me.caps.bounding, inheritable: nbs, permitted: nbs, effective: nbs, ambient: nbs } }));
  return encode(b.build());
}

describe('--help', () => {
  test.each(commands.map((c) => [c.name]))('%s: every option, with its explanation; -h is the same', async (name) => {
    const cmd = commands.find((c) => c.name === name)!;
    const r = await cli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^usage: cr-creds ${name}`));
    for (const o of cmd.options) {
      const line = r.stdout.split('\n').find((l) => l.includes(`--${o.name}`) && /^ {2}(-\w, )?\s*--/.test(l));
      expect({ option: o.name, line: line !== undefined }).toEqual({ option: o.name, line: true });
      // Its explanation follows it (on its line or the next).
      const words = o.help.split(' ').slice(0, 3).join(' ');
      expect(r.stdout.replace(/\n +/g, ' ')).toContain(words);
      if (o.short) expect(r.stdout).toContain(`-${o.short}, --${o.name}`);
    }
    expect((await cli([name, '-h'])).stdout).toBe(r.stdout);
    for (const l of r.stdout.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
  });

  test('the command list, -V and --version', async () => {
    const r = await cli(['--help']);
    for (const c of commands) expect(r.stdout).toMatch(new RegExp(`^  ${c.name} +\\S`, 'm'));
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    expect(await cli(['-V'])).toEqual({ code: 0, stdout: `cr-creds ${version}\n`, stderr: '' });
    expect((await cli(['--version'])).stdout).toBe(`cr-creds ${version}\n`);
  });
});

describe('messages', () => {
  test.each([
    [['checkpoint', '--bogus', '1'], "cr-creds: unknown option '--bogus'"],
    [['checkpoint', '--tree=3', '1', '-o', 'x'], "cr-creds: option '--tree' takes no value"],
    [['checkpoint', '1', '-o'], "cr-creds: option '--output' needs a value"],
    [['validate', '-x'], "cr-creds: unknown option '-x'"],
    [['probe', 'extra'], "cr-creds: unexpected argument 'extra'"],
    [['inspect', '--collapse', 'maybe', '--dot'], "cr-creds: unknown --collapse 'maybe' (auto, always, never)"],
    [['nosuch'], "cr-creds: unknown command 'nosuch'"],
  ])('usage error %j: our words, the synopsis, exit 2', async (argv, first) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(first);
    expect(r.stderr).not.toMatch(/To specify a positional|ERR_PARSE_ARGS|<value>/);
    for (const l of r.stderr.trimEnd().split('\n').slice(1)) expect(l).toMatch(/^(usage: cr-creds| {7}| {16,}|Try 'cr-creds)/);
  });

  rootTest('a vanished process is said one way, whatever the path', async () => {
    const gone = 2 ** 22 + 7; // above pid_max's ceiling: never a process
    const one = await cli(['checkpoint', String(gone), '-o', path.join(dir, 'x.img')]);
    const tree = await cli(['checkpoint', '--tree', String(gone), '-o', path.join(dir, 'x.img')]);
    const two = await cli(['checkpoint', String(gone), String(process.pid), '-o', path.join(dir, 'x.img')]);
    for (const r of [one, tree, two]) expect([r.code, r.stderr]).toEqual([1, `cr-creds: process ${gone}: no such process\n`]);
    expect(fs.existsSync(path.join(dir, 'x.img'))).toBe(false);
  });

  rootTest('a file that cannot be written is named; the temporary file beside it is not', async () => {
    const out = path.join(dir, 'no-such-dir', 'x.img');
    const r = await cli(['checkpoint', String(process.pid), '--skip-securebits', '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`cr-creds: cannot write ${out}: ENOENT: no such file or directory\n`);
    const v = await cli(['validate', path.join(dir, 'missing.img')]);
    expect(v.stderr).toBe(`cr-creds: cannot read ${path.join(dir, 'missing.img')}: ENOENT: no such file or directory\n`);
  });

  test('probe says which securebits the kernel knows, not a value', async () => {
    const r = await cli(['probe']);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('known securebits:'))!;
    expect(line).toMatch(/^known securebits: (unknown \(.*\)|[a-z_ ]+(, each with its lock)?)$/);
    expect(line).not.toMatch(/0x/);
    expect(r.stdout).not.toMatch(/^securebits:/m);
  });
});

describe('validate -', () => {
  test('reads the image from stdin, named <stdin>', async () => {
    const good = image();
    expect(await cli(['validate', '-'], good)).toEqual({ code: 0, stdout: '', stderr: '' });
    const r = await cli(['validate', '-'], good.slice(0, good.length - 16));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^<stdin>: offset \d+: TAIL: tail-missing: /);
    expect((await cli(['validate', '-', '-'], good)).code).toBe(2);
  });
});

describe('restart --dry-run', () => {
  rootTest('a short plan in 100 columns: no repeated prefixes, capability sets in shorthand', async () => {
    const file = path.join(dir, 'ns.img');
    fs.writeFileSync(file, image());
    const r = await cli(['restart', file, '--dry-run', '--', '/bin/true']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
    expect(lines.length).toBeLessThan(25);
    expect(r.stdout).not.toMatch(/CAP_[A-Z]/);
    expect(r.stdout).toMatch(/^ {2} 1\. unshare user ns: uid_map 0:100000:65536/m);
    expect(r.stdout).toMatch(/^ {2}caps p=net_bind_service e=net_bind_service i=net_bind_service a=net_bind_service$/m);
    expect(r.stdout).toMatch(/^ {2}bounding all\(0\.\.\d+\)/m);
    expect(r.stdout).toContain('--verbose lists them');

    const v = await cli(['restart', file, '--dry-run', '--verbose', '--', '/bin/true']);
    const vl = v.stdout.trimEnd().split('\n');
    for (const l of vl) expect(l.length).toBeLessThanOrEqual(100);
    const steps = vl.filter((l) => /^ {2}ok {3}/.test(l));
    expect(steps.length).toBeGreaterThan(5);
    // Each step said once: no "X: X ..." where the message repeats its op.
    for (const s of steps) {
      const text = s.slice(7);
      const head = text.split(': ')[0];
      expect(text.slice(head.length + 2).startsWith(head)).toBe(false);
    }
    expect(v.stdout).not.toMatch(/\{CAP_/);
    // --verbose without --dry-run is for a refusal (every refused step); an allowed restart just
    // runs (from '/': the restored ids may not enter a private checkout).
    const cwd = process.cwd();
    process.chdir('/');
    try {
      const run = await cli(['restart', file, '--verbose', '--', '/bin/true']);
      expect([run.code, run.stderr]).toEqual([0, '']);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('as a process', () => {
  let pkg = '';
  let main = '';
  beforeAll(() => {
    if (!isRoot) return;
    pkg = compiledPackage('ux');
    main = path.join(pkg, 'dist', 'cli', 'main.js');
  }, 180_000);
  afterAll(() => pkg && fs.rmSync(pkg, { recursive: true, force: true }));

  rootTest('checkpoint -o - | head -c 64 (and a reader that is gone at once) ends quietly', async () => {
    // Enough tasks that the image outgrows a pipe's buffer: the write meets the closed pipe.
    const kids = Array.from({ length: 40 }, () => spawn('/bin/sleep', ['60'], { stdio: 'ignore' }));
    await Promise.all(kids.map((k) => once(k, 'spawn')));
    try {
      const pids = kids.map((k) => String(k.pid)).join(' ');
      for (const reader of ['head -c 64 >/dev/null', 'true']) {
        const r = spawnSync('bash', ['-c', `"${process.execPath}" "${main}" checkpoint ${pids} --threads --skip-securebits -o - 2>"${dir}/err" | ${reader}; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
        expect(fs.readFileSync(path.join(dir, 'err'), 'utf8')).toBe('');
        expect(['0', '141']).toContain(r.stdout.trim());
      }
    } finally {
      for (const k of kids) k.kill('SIGKILL');
    }
  }, 60_000);

  rootTest('inspect --json of a big image | head -c 64 ends quietly', () => {
    const b = new ImageBuilder();
    for (let i = 0; i < 500; i++) b.task(b.cred({ uid: 1000 + i, gid: 1000 + i, groups: [i, i + 1] }));
    const file = path.join(dir, 'big.img');
    fs.writeFileSync(file, encode(b.build()));
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${main}" inspect --json "${file}" 2>"${dir}/err2" | head -c 64 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect(fs.readFileSync(path.join(dir, 'err2'), 'utf8')).toBe('');
    expect(['0', '141']).toContain(r.stdout.trim());
  });

  rootTest('a refused read says why (an unprivileged caller checkpointing a root process)', () => {
    const target = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
    try {
      const r = spawnSync(process.execPath, [main, 'checkpoint', String(target.pid), '--skip-securebits', '-o', '-'], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: '/' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^cr-creds: process ${target.pid}: permission denied \\([a-z]+ /proc/${target.pid}/[^)]+\\): the kernel's ptrace access check refused: `));
      expect(r.stderr).toMatch(/it runs as uid 0 and cr-creds as uid 65534 without CAP_SYS_PTRACE|which cr-creds lacks/);
      expect(r.stderr.split('\n')).toHaveLength(2);
    } finally {
      target.kill('SIGKILL');
    }
  });

  rootTest('-V as a process; stdout only carries output', () => {
    const r = spawnSync(process.execPath, [main, '-V'], { encoding: 'utf8' });
    expect([r.status, r.stdout, r.stderr]).toEqual([0, `cr-creds ${JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version}\n`, '']);
  });
});

describe('completion', () => {
  test('bash: the real bash accepts it and completes commands, options and their values', async () => {
    const script = (await cli(['completion', 'bash'])).stdout;
    const file = path.join(dir, 'cr-creds.bash');
    fs.writeFileSync(file, script);
    execFileSync('bash', ['-n', file]);
    const complete = (...words: string[]) =>
      execFileSync('bash', ['-c', `source "${file}"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _cr_creds; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).trim().split('\n');
    expect(complete('cr-creds', 'c')).toEqual(expect.arrayContaining(['checkpoint', 'convert', 'completion']));
    expect(complete('cr-creds', 'checkpoint', '--t')).toEqual(['--tree', '--threads']);
    expect(complete('cr-creds', 'inspect', '--collapse', '')).toEqual(['auto', 'always', 'never']);
    expect(complete('cr-creds', 'completion', '')).toEqual(['bash', 'zsh']);
    // Every option of every command completes.
    for (const c of commands) {
      const all = complete('cr-creds', c.name, '-');
      for (const o of c.options) expect(all).toContain(`--${o.name}`);
      expect(all).toContain('--help');
    }
  });

  test('zsh: the real zsh accepts it; every command and option is in it', async () => {
    const script = (await cli(['completion', 'zsh'])).stdout;
    const file = path.join(dir, '_cr-creds');
    fs.writeFileSync(file, script);
    expect(script.split('\n')[0]).toBe('#compdef cr-creds');
    execFileSync('zsh', ['-n', file]);
    // Loaded by the completion system itself: compinit finds it in $fpath and binds it.
    const bound = execFileSync('zsh', ['-f', '-c', `fpath=("${dir}" $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[cr-creds]`], { encoding: 'utf8' }).trim();
    expect(bound).toBe('_cr-creds');
    for (const c of commands) {
      expect(script).toContain(`'${c.name}:`);
      for (const o of c.options) expect(script).toContain(`--${o.name}`);
    }
    expect((await cli(['completion', 'fish'])).code).toBe(2);
  });
});
