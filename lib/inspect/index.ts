export { renderReport } from './text';
export { toInspectJson, INSPECT_SCHEMA_VERSION, type InspectJson, type CredJson, type TaskJson, type UserNamespaceJson } from './json';
export { prefixJson, describePrefix, type PrefixJson } from './prefix';
export { collectNamespaces, type NamespaceEntry } from './namespaces';
export {
  toGraph,
  capShort,
  securebitsShort,
  DEFAULT_COLLAPSE_ABOVE,
  type ObjectGraph,
  type GraphNode,
  type GraphEdge,
  type GraphNodeKind,
  type GraphEdgeKind,
  type GraphOptions,
} from './graph';
export { renderDot, graphToDot, dotEscape } from './dot';
export { renderSvg, graphToSvg, xmlEscape, type SvgOptions } from './svg';
export { credentialFields, differentFields, type CredentialFields } from './fields';
