// The addon built by cmake-js (CMakeLists.txt) is equivalent to node-gyp's (binding.gyp):
// same sources, same exports, same answers.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

describe('cmake-js build', () => {
  let out: string;
  beforeAll(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-cmake-'));
  });
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test('produces an addon with the same exports and probe as the node-gyp build', () => {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'cmake-js', 'bin', 'cmake-js'), 'compile', '--directory', ROOT, '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const cmakeAddon = path.join(out, 'Release', 'cr_creds.node');
    expect(fs.existsSync(cmakeAddon)).toBe(true);
    // Load each in a fresh process: one module instance per process.
    const describe = (file: string) =>
      JSON.parse(
        execFileSync(process.execPath, ['-e', `const a = require(${JSON.stringify(file)}); const p = a.probe(); console.log(JSON.stringify({ keys: Object.keys(a).sort(), release: p.release, capLastCap: p.capLastCap, linuxCr: p.linuxCr }))`], { encoding: 'utf8' }),
      );
    const gypAddon = require('node-gyp-build').resolve(ROOT) as string;
    expect(describe(cmakeAddon)).toEqual(describe(gypAddon));
  }, 180_000);
});
