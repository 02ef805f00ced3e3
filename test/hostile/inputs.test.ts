// Every input is read in bounded memory, its type checked before a blocking open: /dev/zero
// under a heap limit, a FIFO and a link in a CRIU directory, a 63 MiB CRIU core of zeros. The
// CLI runs as a process of its own (compiled), its peak RSS measured inside it.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compiledPackage, measuredCli } from './helpers';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the hostile-input tests must not skip');

/** No hostile input may take the process past this (node itself is ~45 MiB). */
const RSS_LIMIT_KIB = 256 * 1024;
/** A heap limit far below what reading the input whole would need. */
const SMALL_HEAP = ['--max-old-space-size=64'];
// Time bounds are on the CLI's CPU time, which the load of a shared machine does not stretch:
// reading an endless input, or work growing faster than the input, runs past them all the same.

let pkg = '';
let scratch = '';
const example = path.join(__dirname, '..', '..', 'examples', 'example.img');
beforeAll(() => {
  pkg = compiledPackage('hostile-in');
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-hostile-in-'));
}, 120000);
afterAll(() => {
  fs.rmSync(pkg, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A CRIU dump directory of the example image (convert --to criu); returns it and its task pid. */
async function dumpDir(label: string): Promise<{ dir: string; pid: number }> {
  const dir = path.join(scratch, label);
  const r = await measuredCli(pkg, ['convert', '--to', 'criu', example, '-o', dir]);
  if (r.code !== 0) throw new Error(r.stderr);
  const core = fs.readdirSync(dir).find((n) => /^core-\d+\.img$/.test(n))!;
  return { dir, pid: Number(core.slice(5, -4)) };
}

describe('/dev/zero as the image, under a 64 MiB heap', () => {
  for (const args of [['validate', '/dev/zero'], ['inspect', '/dev/zero'], ['inspect', '--json', '/dev/zero'], ['restart', '/dev/zero', '--dry-run', '--', 'true']]) {
    test(`${args.join(' ')}: a typed error, fast`, async () => {
      const r = await measuredCli(pkg, args, { nodeFlags: SMALL_HEAP, timeoutMs: 20000 });
      expect(r.stderr + r.stdout).toMatch(/offset 0: HEADER: head-magic: magic reads neither/);
      expect(r.code).toBe(1);
      expect(r.cpuMs).toBeLessThan(5000);
      expect(r.maxRssKiB).toBeGreaterThan(0);
      expect(r.maxRssKiB).toBeLessThan(RSS_LIMIT_KIB);
    }, 30000);
  }
});

test('an endless FIFO of zeros as the image: validate fails fast, the writer is not waited for', async () => {
  const fifo = path.join(scratch, 'zeros.fifo');
  spawnSync('mkfifo', [fifo]);
  const writer = require('child_process').spawn('sh', ['-c', `exec cat /dev/zero > ${fifo}`], { stdio: 'ignore' });
  try {
    const r = await measuredCli(pkg, ['validate', fifo], { nodeFlags: SMALL_HEAP, timeoutMs: 20000 });
    expect(r.stdout).toMatch(/head-magic/);
    expect(r.code).toBe(1);
    expect(r.maxRssKiB).toBeLessThan(RSS_LIMIT_KIB);
  } finally {
    writer.kill('SIGKILL');
  }
}, 30000);

describe('/dev/zero as a text input (a spec, a config to merge, inspect JSON), under a 64 MiB heap', () => {
  const img = () => {
    const f = path.join(scratch, 'text-input.img');
    if (!fs.existsSync(f)) fs.copyFileSync(path.join(__dirname, '..', '..', 'examples', 'example.img'), f);
    return f;
  };
  const cases = (): [string, string[]][] => [
    ['import', ['import', '--from', 'oci', '/dev/zero', '-o', path.join(scratch, 'never.img')]],
    ['encode', ['encode', '/dev/zero', '-o', path.join(scratch, 'never.img')]],
    ['export --merge', ['export', '--to', 'oci', img(), '--merge', '/dev/zero']],
  ];
  for (const [label, at] of [['import', 0], ['encode', 1], ['export --merge', 2]] as const) {
    test(`${label}: refused past the text limit, fast, in bounded memory`, async () => {
      const args = cases()[at][1];
      const r = await measuredCli(pkg, args, { nodeFlags: SMALL_HEAP, timeoutMs: 20000 });
      expect([r.code, r.stderr]).toEqual([1, 'cr-creds: /dev/zero: more than 64 MiB, the most a text input may hold\n']);
      expect(r.cpuMs).toBeLessThan(10000);
      expect(r.maxRssKiB).toBeLessThan(RSS_LIMIT_KIB);
      expect(fs.existsSync(path.join(scratch, 'never.img'))).toBe(false);
    }, 30000);
  }

  test('a FIFO named as a spec waits for its writer, as cat would, and reads what it writes', async () => {
    const fifo = path.join(scratch, 'spec.fifo');
    spawnSync('mkfifo', [fifo]);
    const spec = JSON.stringify({ ociVersion: '1.0.2', process: { user: { uid: 1000, gid: 1000 }, args: ['true'], cwd: '/' } });
    const writer = require('child_process').spawn('sh', ['-c', `printf '%s' '${spec}' > ${fifo}`], { stdio: 'ignore' });
    try {
      const out = path.join(scratch, 'from-fifo.img');
      const r = await measuredCli(pkg, ['import', '--from', 'oci', fifo, '-o', out, '--quiet'], { timeoutMs: 20000 });
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(fs.statSync(out).size).toBeGreaterThan(0);
    } finally {
      writer.kill('SIGKILL');
    }
  }, 30000);
});

test('a directory as the image is refused by its type', async () => {
  const r = await measuredCli(pkg, ['inspect', scratch]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/is a directory, not an image file/);
});

test('a FIFO in a CRIU directory is refused without blocking (no writer ever comes)', async () => {
  const { dir, pid } = await dumpDir('fifo');
  const core = path.join(dir, `core-${pid}.img`);
  fs.rmSync(core);
  spawnSync('mkfifo', [core]);
  const r = await measuredCli(pkg, ['convert', '--from', 'criu', dir], { timeoutMs: 15000 });
  expect(r.stderr).toMatch(new RegExp(`core-${pid}\\.img: offset 0: file-size: is a FIFO, not a regular file`));
  expect(r.code).toBe(1);
  // A blocking open never returns (no writer comes): the kill ends it, and the code above fails.
  expect(r.cpuMs).toBeLessThan(5000);
}, 30000);

test("a link in a CRIU directory is not followed and the linked file's bytes are never shown", async () => {
  const { dir, pid } = await dumpDir('link');
  const secret = path.join(scratch, 'secret');
  // Bytes that would pass for a CRIU magic were they read: shown in hex or text, they would leak.
  fs.writeFileSync(secret, Buffer.concat([Buffer.from('SECRETBYTES-'), Buffer.alloc(64, 0x41)]));
  const core = path.join(dir, `core-${pid}.img`);
  fs.rmSync(core);
  fs.symlinkSync(secret, core);
  const r = await measuredCli(pkg, ['convert', '--from', 'criu', dir]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/is a symbolic link, not a regular file/);
  expect(r.stderr).not.toMatch(/SECRET|53454352|41414141|0x4/i);
});

describe('a 63 MiB CRIU file of zeros after valid magics', () => {
  const MIB63 = 63 << 20;
  for (const kind of ['core', 'pstree'] as const) {
    test(`${kind}: refused at its first entry, in bounded memory and time`, async () => {
      const { dir, pid } = await dumpDir(`zeros-${kind}`);
      const file = path.join(dir, kind === 'core' ? `core-${pid}.img` : 'pstree.img');
      const head = fs.readFileSync(file).subarray(0, 8); // IMG_COMMON and the kind's magic
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, head);
      fs.ftruncateSync(fd, MIB63);
      fs.closeSync(fd);
      const r = await measuredCli(pkg, ['convert', '--from', 'criu', dir], { nodeFlags: SMALL_HEAP, timeoutMs: 30000 });
      expect(r.stderr).toMatch(/offset 8: bad-entry: entry 0: entry is not a valid (CoreEntry|PstreeEntry): missing required/);
      expect(r.code).toBe(1);
      // The file itself is read (63 MiB); nothing may grow with the entries it would frame.
      expect(r.maxRssKiB).toBeLessThan(RSS_LIMIT_KIB);
      expect(r.cpuMs).toBeLessThan(5000);
    }, 60000);
  }

  test('a core holding a second entry stops there, whatever follows', async () => {
    const { dir, pid } = await dumpDir('zeros-second');
    const file = path.join(dir, `core-${pid}.img`);
    const good = fs.readFileSync(file);
    fs.writeFileSync(file, Buffer.concat([good, Buffer.alloc(MIB63 - good.length)]));
    const r = await measuredCli(pkg, ['convert', '--from', 'criu', dir], { nodeFlags: SMALL_HEAP, timeoutMs: 30000 });
    expect(r.stderr).toMatch(new RegExp(`offset ${good.length}: extra-entry: entry 1: a second entry; a core image holds one`));
    expect(r.code).toBe(1);
    expect(r.maxRssKiB).toBeLessThan(RSS_LIMIT_KIB);
  }, 60000);
});
