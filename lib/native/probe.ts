// probe(): what the running kernel offers for credential checkpoint/restart (the addon's probe).
import { native, type ProbeResult } from './binding';

export type { ProbeResult, ThreadCreds } from './binding';

export function probe(): ProbeResult {
  return native().probe();
}
