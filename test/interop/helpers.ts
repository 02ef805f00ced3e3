// Shared by the interop tests: /proc status fields, live processes with known creds, runc.
import { execFile, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import Ajv from 'ajv';

export const run = promisify(execFile);

/** The credential lines of /proc/PID/status, as the kernel prints them. */
export const STATUS_FIELDS = ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs'] as const;

export function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    const k = line.slice(0, i);
    if ((STATUS_FIELDS as readonly string[]).includes(k)) out[k] = line.slice(i + 1).trim().replace(/\s+/g, ' ');
  }
  return out;
}

export function procStatus(pid: number): Record<string, string> {
  return statusFields(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
}

const live = new Set<ChildProcess>();
/** Programs found below a launcher: killed by pid too (they outlive a killed launcher). */
const below = new Set<number>();

/** Starts a command that ends by exec'ing `sleep`; resolves once /proc shows it as sleep. */
export async function startSleeper(cmd: string, args: string[]): Promise<{ pid: number; child: ChildProcess }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const pid = child.pid!;
  for (let i = 0; i < 500; i++) {
    if (child.exitCode !== null) throw new Error(`${cmd} ${args.join(' ')} exited ${child.exitCode}: ${err}`);
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') return { pid, child };
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${cmd}: never became sleep: ${err}`);
}

export function killSleepers(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
  for (const pid of below) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  below.clear();
}

export function has(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => fs.existsSync(path.join(d, tool)));
}

/** The OCI runtime-spec JSON schema as Debian's golang-github-opencontainers-specs-dev ships it. */
export const OCI_SCHEMA_DIR = '/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema';

/**
 * A validator of a whole config.json against the published schema. `closed`: every object
 * schema also refuses properties it does not name, so a misspelt field fails too.
 */
export function ociValidator(closed: boolean): (config: unknown) => string[] {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const close = (s: unknown): unknown => {
    if (Array.isArray(s)) return s.map(close);
    if (s === null || typeof s !== 'object') return s;
    // The files say draft-04; they use no keyword whose meaning changed since, so ajv's default
    // draft reads them as written.
    const o = Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$schema').map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, close(pv)])) : close(v)]));
    if (closed && (o as { properties?: unknown }).properties && (o as { additionalProperties?: unknown }).additionalProperties === undefined && !(o as { patternProperties?: unknown }).patternProperties)
      (o as { additionalProperties: boolean }).additionalProperties = false;
    return o;
  };
  for (const f of fs.readdirSync(OCI_SCHEMA_DIR).filter((f) => f.endsWith('.json') && f !== 'config-schema.json' && f !== 'state-schema.json')) {
    const s = JSON.parse(fs.readFileSync(path.join(OCI_SCHEMA_DIR, f), 'utf8'));
    ajv.addSchema(close(s) as object, f);
  }
  const main = close(JSON.parse(fs.readFileSync(path.join(OCI_SCHEMA_DIR, 'config-schema.json'), 'utf8'))) as object;
  const validate = ajv.compile(main);
  return (config) => (validate(config) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
}

/** The first descendant of `root` (or root itself) running `comm`, waited for. */
export async function findDescendant(root: number, comm: string): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const queue = [root];
    while (queue.length > 0) {
      const pid = queue.shift()!;
      try {
        if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) return pid;
        for (const t of fs.readdirSync(`/proc/${pid}/task`))
          queue.push(...fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number));
      } catch {
        // gone or not there yet
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no ${comm} below pid ${root}`);
}

/** Starts a launcher command whose program (somewhere below it) is `sleep`. */
export async function startBelow(cmd: string, args: string[]): Promise<{ pid: number; child: ChildProcess }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  const pid = await Promise.race([findDescendant(child.pid!, 'sleep'), exited]);
  below.add(pid);
  return { pid, child };
}
