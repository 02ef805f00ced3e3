// The prebuilt addons (`npm run prebuilds`, run by CI before the tests): linux-x64 and the
// cross-built linux-arm64, each an ELF shared object of its machine, tagged with its libc, and
// both in what `npm pack` ships.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const NPM_CLI = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const PREBUILDS = {
  'linux-x64': { machine: 62, name: 'EM_X86_64' },
  'linux-arm64': { machine: 183, name: 'EM_AARCH64' },
} as const;
const FILE = 'cr-creds.glibc.node';

// Built by CI; on a developer's machine only once `npm run prebuilds` has run.
const built = Object.keys(PREBUILDS).every((dir) => fs.existsSync(path.join(ROOT, 'prebuilds', dir, FILE)));
const maybe = built || process.env.CI === 'true' ? describe : describe.skip;

interface ElfHeader {
  magic: boolean;
  class64: boolean;
  littleEndian: boolean;
  type: number;
  machine: number;
}

function elfHeader(file: string): ElfHeader {
  const fd = fs.openSync(file, 'r');
  const b = Buffer.alloc(64);
  try {
    expect(fs.readSync(fd, b, 0, 64, 0)).toBe(64);
  } finally {
    fs.closeSync(fd);
  }
  return {
    magic: b.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])),
    class64: b[4] === 2, // ELFCLASS64
    littleEndian: b[5] === 1, // ELFDATA2LSB
    type: b.readUInt16LE(16),
    machine: b.readUInt16LE(18),
  };
}

maybe('prebuilds', () => {
  test.each(Object.entries(PREBUILDS))('%s is a 64-bit little-endian shared object for its machine', (dir, { machine }) => {
    expect(fs.readdirSync(path.join(ROOT, 'prebuilds', dir))).toEqual([FILE]);
    expect(elfHeader(path.join(ROOT, 'prebuilds', dir, FILE))).toEqual({
      magic: true,
      class64: true,
      littleEndian: true,
      type: 3, // ET_DYN
      machine,
    });
  });

  test('npm pack ships both prebuilds', () => {
    const out = execFileSync(process.execPath, [NPM_CLI, 'pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    expect(files.filter((f) => f.startsWith('prebuilds/')).sort()).toEqual(
      Object.keys(PREBUILDS)
        .sort()
        .map((dir) => `prebuilds/${dir}/${FILE}`),
    );
  }, 60_000);
});
