// `cr-creds validate`: exit codes and the one-line-per-problem format, in-process and as a
// real process (node on the compiled CLI).
import { execFileSync, spawnSync } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { ImageBuilder, encode } from '../../lib/format';
import { cli } from './io';

const ROOT = resolve(__dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'example.img');
const dir = mkdtempSync(join(tmpdir(), 'cr-creds-validate-'));
const LINE = /^(.+): offset (\d+): ([A-Z0-9_]+): ([a-z-]+): (.+)$/;

function files() {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 0 }));
  const good = encode(b.build());
  const truncated = good.slice(0, good.length - 16);
  const badMagic = good.slice();
  badMagic[8] ^= 0xff;
  const paths = { good: join(dir, 'good.img'), truncated: join(dir, 'truncated.img'), badMagic: join(dir, 'bad magic.img') };
  writeFileSync(paths.good, good);
  writeFileSync(paths.truncated, truncated);
  writeFileSync(paths.badMagic, badMagic);
  return { paths, tailAt: truncated.length };
}

test('valid files: exit 0, nothing on stdout', async () => {
  const { paths } = files();
  const r = await cli(['validate', paths.good, EXAMPLE]);
  expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
});

test('invalid files: exit 1, one line per problem, FILE: offset N: RECORD: RULE: message', async () => {
  const { paths, tailAt } = files();
  const r = await cli(['validate', paths.good, paths.truncated, paths.badMagic]);
  expect(r.code).toBe(1);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0].match(LINE)?.slice(1, 5)).toEqual([paths.truncated, String(tailAt), 'TAIL', 'tail-missing']);
  expect(lines[1].match(LINE)?.slice(1, 5)).toEqual([paths.badMagic, '0', 'HEADER', 'head-magic']);
});

test('an unreadable file: exit 1 with a message; the others are still checked', async () => {
  const { paths } = files();
  const r = await cli(['validate', join(dir, 'missing.img'), paths.truncated]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^cr-creds: cannot read .*missing\.img: ENOENT/);
  expect(r.stdout.trimEnd()).toMatch(LINE);
});

test('no FILE: usage, exit 2', async () => {
  const r = await cli(['validate']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('usage: cr-creds validate FILE...');
});

describe('as a process', () => {
  let mainJs: string;
  beforeAll(() => {
    // Compile the CLI on its own (CI also builds dist/ through `npm ci`; this keeps the test
    // independent of a stale dist/).
    const out = mkdtempSync(join(tmpdir(), 'cr-creds-dist-'));
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT, stdio: 'pipe' });
    mainJs = join(out, 'cli', 'main.js');
  }, 180000);

  const run = (...args: string[]) => spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8' });

  test('exit codes 0, 1 and 2 and the line format', () => {
    const { paths, tailAt } = files();
    const ok = run('validate', paths.good);
    expect([ok.status, ok.stdout]).toEqual([0, '']);
    const bad = run('validate', paths.truncated);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe(`${paths.truncated}: offset ${tailAt}: TAIL: tail-missing: the image ends without a TAIL record\n`);
    expect(run('validate').status).toBe(2);
    const insp = run('inspect', '--json', EXAMPLE);
    expect(insp.status).toBe(0);
    expect(JSON.parse(insp.stdout).tasks).toHaveLength(3);
  });
});
