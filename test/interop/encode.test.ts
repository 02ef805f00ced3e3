// inspect --json back to an image: identical bytes for every image we write, names accepted
// for capability sets, and bad JSON refused with the path and the rule.
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { decodeDetailed, encode, ImageBuilder } from '../../lib/format';
import { toInspectJson } from '../../lib/inspect';
import { encodeInspectJson, fromInspectJson, InteropError } from '../../lib/interop';
import { capNames } from '../../lib/model';
import { arbImage } from '../format/arbitraries';
import { cli } from '../cli/io';

const jsonOf = (bytes: Uint8Array) => {
  const { image, details } = decodeDetailed(bytes);
  return JSON.parse(JSON.stringify(toInspectJson(image, details.objrefs)));
};

describe('encode(inspect --json)', () => {
  test('identical bytes for generated images (sharing, both byte orders and layouts, extensions)', () => {
    fc.assert(
      fc.property(arbImage(), (image) => {
        const bytes = encode(image);
        expect(Buffer.from(encodeInspectJson(jsonOf(bytes))).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('identical bytes for the example image and an image with a SECURITY object', () => {
    const example = new Uint8Array(fs.readFileSync(path.join(__dirname, '..', '..', 'examples', 'example.img')));
    expect(Buffer.from(encodeInspectJson(jsonOf(example))).equals(Buffer.from(example))).toBe(true);
    const b = new ImageBuilder({ credLayout: 96 });
    b.task(b.cred({ uid: 5, secRef: 7 }));
    const image = { ...b.build(), security: [{ objref: 7, type: 0x1234, body: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }] };
    const bytes = encode(image);
    expect(Buffer.from(encodeInspectJson(jsonOf(bytes))).equals(Buffer.from(bytes))).toBe(true);
  });

  test('identical bytes for the v23 images cr-creds wrote before dialects, from schema 2 and from schema 1 (no dialect)', () => {
    const dir = path.join(__dirname, '..', 'fixtures', 'v23');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.img'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const bytes = new Uint8Array(fs.readFileSync(path.join(dir, f)));
      const json = jsonOf(bytes);
      expect(json.dialect).toBe('v23');
      expect(Buffer.from(encodeInspectJson(json)).equals(Buffer.from(bytes))).toBe(true);
      const v1 = { ...json, schemaVersion: 1 };
      delete v1.dialect;
      expect(Buffer.from(encodeInspectJson(v1)).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  test('a dialect the series never had is refused with its path', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1 }));
    const json = jsonOf(encode(b.build()));
    expect(() => encodeInspectJson({ ...json, dialect: 'v22' })).toThrow(/^dialect: expected 'v21' or 'v23', got 'v22'$/);
  });

  test('capability sets as arrays of names give the same image as the hex form', () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, caps: { permitted: 0x420n, effective: 0x400n, bounding: 0x1fffeffffffn, ambient: 0x400n, inheritable: 0x400n } }), { noNewPrivs: true });
    const bytes = encode(b.build());
    const json = jsonOf(bytes);
    for (const c of [json.tasks[0].cred]) for (const k of Object.keys(c.caps)) c.caps[k] = capNames(BigInt(`0x${c.caps[k]}`));
    expect(json.tasks[0].cred.caps.effective).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(Buffer.from(encodeInspectJson(json)).equals(Buffer.from(bytes))).toBe(true);
  });

  test('without objrefs (toInspectJson of an image never written) equal values are shared', () => {
    const b = new ImageBuilder();
    const c = b.cred({ uid: 7, groups: [1, 2] });
    b.task(c);
    b.task(c);
    const image = b.build();
    const json = JSON.parse(JSON.stringify(toInspectJson(image)));
    expect(json.tasks[0].cred.objref).toBeNull();
    const back = fromInspectJson(json);
    expect(back.tasks[0].cred).toBe(back.tasks[1].cred);
    expect(Buffer.from(encode(back)).equals(Buffer.from(encode(image)))).toBe(true);
  });

  test.each([
    [(j: any) => (j.tasks[0].cred.uid = -1), /tasks\[0\]\.cred\.uid: expected an integer in 0\.\.4294967295, got -1/],
    [(j: any) => (j.tasks[0].cred.caps.permitted = ['CAP_NOPE']), /tasks\[0\]\.cred\.caps\.permitted\[0\]: unknown capability 'CAP_NOPE'/],
    [(j: any) => (j.tasks[0].cred.caps.bounding = 'xyz'), /tasks\[0\]\.cred\.caps\.bounding: not a capability set/],
    [(j: any) => (j.tasks[0].cred.groups = [5, 3]), /tasks\[0\]\.cred\.groups: groups must be strictly ascending/],
    [(j: any) => (j.header.byteOrder = 'middle'), /header\.byteOrder: expected 'little' or 'big'/],
    [(j: any) => (j.tasks[0].cred.user.ns = 9), /tasks\[0\]\.cred\.user\.ns: expected an integer in 0\.\.0/],
    [(j: any) => delete j.header, /header: expected an object/],
    [(j: any) => (j.schemaVersion = 99), /schemaVersion: 99 is newer than this cr-creds reads/],
  ])('refuses bad JSON with the path and the rule (%#)', (mutate, message) => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1, groups: [3, 5] }));
    const json = jsonOf(encode(b.build()));
    mutate(json);
    expect(() => encodeInspectJson(json)).toThrow(InteropError);
    expect(() => encodeInspectJson(json)).toThrow(message);
  });

  test('cr-creds inspect --json | cr-creds encode -o - writes the same bytes', async () => {
    const file = path.join(__dirname, '..', '..', 'examples', 'example.img');
    const json = await cli(['inspect', '--json', file]);
    expect(json.code).toBe(0);
    const out: Buffer[] = [];
    const { main } = await import('../../lib/cli/main');
    const { Readable, Writable } = await import('stream');
    const err: string[] = [];
    const code = await main(['encode', '-o', '-'], {
      stdin: Readable.from([Buffer.from(json.stdout)]),
      stdout: new Writable({ write: (c, _e, cb) => (out.push(Buffer.from(c)), cb()) }),
      stderr: new Writable({ write: (c, _e, cb) => (err.push(String(c)), cb()) }),
      isTTY: false,
    });
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    expect(Buffer.concat(out).equals(fs.readFileSync(file))).toBe(true);
    const bad = await cli(['encode', '-o', '-'], Buffer.from('{"header": 1}'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('cr-creds: <stdin>: header: expected an object\n');
  });
});
