// Every file the CLI writes cannot be steered by another user: the attacks as an attacker runs
// them (links and files planted by uid 65534 in a sticky world-writable directory), and a full
// disk (a small tmpfs, filled) that must leave nothing behind to block a rerun.
import { spawnSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cli } from '../cli/io';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the hostile-write tests must not skip');
const rootTest = isRoot ? test : test.skip;
const NOBODY = 65534;

let scratch = '';
let target: ChildProcess;
const example = path.join(__dirname, '..', '..', 'examples', 'example.img');
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-hostile-w-'));
  fs.chmodSync(scratch, 0o755); // uid 65534 reaches the shared directories inside
  target = spawn('sleep', ['1000'], { stdio: 'ignore' });
});
afterAll(() => {
  target.kill('SIGKILL');
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A sticky world-writable directory, as /tmp. */
function sharedDir(): string {
  const d = fs.mkdtempSync(path.join(scratch, 'shared-'));
  fs.chmodSync(d, 0o1777);
  return d;
}

/** Runs a command as uid/gid 65534 (privilege dropped in the child). */
function asNobody(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { uid: NOBODY, gid: NOBODY, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} as ${NOBODY}: ${r.stderr} ${r.error ?? ''}`);
}

/** A root-owned file outside the shared directory: what the attacker wants overwritten. */
function victim(): string {
  const d = fs.mkdtempSync(path.join(scratch, 'etc-'));
  const f = path.join(d, 'precious');
  fs.writeFileSync(f, 'precious\n', { mode: 0o644 });
  return f;
}

/** Entries of `dir` that are files not owned by root or not 0600. */
function looseFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => {
    const st = fs.lstatSync(path.join(dir, n));
    return st.isFile() && (st.uid !== 0 || (st.mode & 0o777) !== 0o600);
  });
}

const checkpointTo = (out: string) => cli(['checkpoint', String(target.pid), '--skip-securebits', '-o', out]);

rootTest("a link planted by another uid at the output name is refused; its target is untouched", async () => {
  const dir = sharedDir();
  const v = victim();
  const out = path.join(dir, 'image');
  asNobody('ln', ['-s', v, out]);
  const r = await checkpointTo(out);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^cr-creds: refusing to write ${out}: .* symbolic link owned by uid ${NOBODY} in the world-writable sticky directory`));
  expect(fs.readFileSync(v, 'utf8')).toBe('precious\n');
  expect(fs.lstatSync(out).isSymbolicLink()).toBe(true);
  expect(fs.readdirSync(dir)).toEqual(['image']);
});

rootTest("a file planted by another uid (mode 0666) at the output name is refused and left as it was", async () => {
  const dir = sharedDir();
  const out = path.join(dir, 'image');
  asNobody('sh', ['-c', `umask 0; echo planted > ${out}`]);
  const r = await checkpointTo(out);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/refusing to replace .*owned by uid 65534 in the world-writable directory/);
  const st = fs.statSync(out);
  expect([st.uid, st.mode & 0o777, fs.readFileSync(out, 'utf8')]).toEqual([NOBODY, 0o666, 'planted\n']);
});

rootTest('links planted at the old predictable temp names are never followed; the image is root 0600', async () => {
  const dir = sharedDir();
  const v = victim();
  const out = path.join(dir, 'image');
  // The names the writer once used (.NAME.<pid>.tmp), for every pid near ours.
  for (let p = process.pid - 5; p <= process.pid + 5; p++) asNobody('ln', ['-s', v, path.join(dir, `.image.${p}.tmp`)]);
  const r = await checkpointTo(out);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(fs.readFileSync(v, 'utf8')).toBe('precious\n');
  const st = fs.lstatSync(out);
  expect([st.isFile(), st.uid, st.gid, st.mode & 0o777]).toEqual([true, 0, 0, 0o600]);
  expect(looseFiles(dir)).toEqual([]);
  expect(fs.readdirSync(dir).filter((n) => !n.startsWith('.image.') || !fs.lstatSync(path.join(dir, n)).isSymbolicLink())).toEqual(['image']);
});

rootTest('a link the user made and named is followed: its target gets the image, the link stays', async () => {
  const dir = fs.mkdtempSync(path.join(scratch, 'own-'));
  const real = path.join(dir, 'real.img');
  fs.writeFileSync(real, 'old');
  fs.symlinkSync(real, path.join(dir, 'link.img'));
  const r = await checkpointTo(path.join(dir, 'link.img'));
  expect(r.code).toBe(0);
  expect(fs.lstatSync(path.join(dir, 'link.img')).isSymbolicLink()).toBe(true);
  expect(fs.readFileSync(real).subarray(0, 4)).not.toEqual(Buffer.from('old'));
  expect(fs.statSync(real).mode & 0o777).toBe(0o600);
  expect((await cli(['validate', real])).code).toBe(0);
});

rootTest('the CRIU dump writer replaces a foreign link planted at one of its file names, never follows it', async () => {
  // The CLI wants an empty directory; the API writes into any: a planted link is replaced, never followed.
  const { imageToCriu } = await import('../../lib/criu');
  const { decode } = await import('../../lib/format');
  const dir = sharedDir();
  const v = victim();
  asNobody('ln', ['-s', v, path.join(dir, 'inventory.img')]);
  await imageToCriu(decode(fs.readFileSync(example)), dir);
  expect(fs.readFileSync(v, 'utf8')).toBe('precious\n');
  expect(fs.lstatSync(path.join(dir, 'inventory.img')).isFile()).toBe(true);
  expect(looseFiles(dir)).toEqual([]);
});

describe('a full disk (a 256 KiB tmpfs)', () => {
  let mnt = '';
  beforeAll(() => {
    if (!isRoot) return;
    mnt = fs.mkdtempSync(path.join(scratch, 'tmpfs-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'tmpfs', mnt], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
  });
  afterAll(() => {
    if (mnt) spawnSync('umount', [mnt]);
  });
  /** Fills the tmpfs, leaving `freePages` pages of 4 KiB. */
  function fill(freePages: number): void {
    fs.rmSync(path.join(mnt, 'filler'), { force: true });
    const total = 64; // 256 KiB in pages
    fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc((total - freePages) * 4096));
  }

  rootTest('checkpoint -o fails with a message and leaves no temp file', async () => {
    fill(0);
    const r = await checkpointTo(path.join(mnt, 'image'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cr-creds: cannot write .*image: .*ENOSPC/);
    expect(fs.readdirSync(mnt)).toEqual(['filler']);
  });

  rootTest('convert --to criu that runs out of space part-way leaves no partial dump; a rerun succeeds', async () => {
    // One page free: the first dump file fits, a later one does not.
    fill(1);
    const dump = path.join(mnt, 'dump');
    const r = await cli(['convert', '--to', 'criu', example, '-o', dump]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ENOSPC/);
    expect(fs.readdirSync(mnt)).toEqual(['filler']);
    fill(32);
    const again = await cli(['convert', '--to', 'criu', example, '-o', dump]);
    expect(again.code).toBe(0);
    expect(fs.readdirSync(dump).sort()).toContain('inventory.img');
    expect(looseFiles(dump)).toEqual([]);
    expect(fs.statSync(dump).mode & 0o777).toBe(0o700);
  });
});
