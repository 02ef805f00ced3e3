// Interop with the configurations container and service tooling uses (docs/interop.md): OCI
// runtime spec, systemd units, Kubernetes securityContext, setpriv and bwrap command lines; and
// the `inspect --json` schema back to an image.
export { InteropError, type ExportFormat, type ImportFormat, type InteropNote, type TaskChoice, type Exported, type Imported } from './types';
export { toOci, fromOci, mergeOci, type OciIdentity, type OciUser, type OciCapabilities, type OciIdMapping, type OciNamespace } from './oci';
export { toSystemd, fromSystemd, parseUnitSettings, SYSTEMD_SECUREBITS, type SystemdSettings } from './systemd';
export {
  toK8s,
  fromK8s,
  RUNTIME_DEFAULT_CAPS,
  type K8sOptions,
  type K8sPodSpecIdentity,
  type K8sSecurityContext,
  type K8sPodSecurityContext,
  type K8sCapabilities,
} from './k8s';
export { toSetpriv } from './setpriv';
export { toBwrap, type BwrapOptions } from './bwrap';
export { fromInspectJson, encodeInspectJson } from './inspect-json';
export { toYaml, fromYaml, YamlError } from './yaml';
export { shellQuote, shellLine } from './shell';
