export { renderReport, reportLines, REPORT_MAX_INDENT } from './text';
export { toInspectJson, inspectJsonChunks, INSPECT_SCHEMA_VERSION, type InspectJson, type CredJson, type TaskJson, type UserNamespaceJson, type SecurityJson, type CapsJson, type IdMapJson } from './json';
export { prefixJson, describePrefix, type PrefixJson } from './prefix';
export { collectNamespaces, type NamespaceEntry } from './namespaces';
export {
  toGraph,
  capShort,
  securebitsShort,
  DEFAULT_COLLAPSE_ABOVE,
  GRAPH_CHAIN_HEAD,
  GRAPH_CHAIN_TAIL,
  type ObjectGraph,
  type GraphNode,
  type GraphEdge,
  type GraphNodeKind,
  type GraphEdgeKind,
  type GraphOptions,
} from './graph';
export { renderDot, graphToDot, dotLines, dotEscape } from './dot';
export { renderSvg, graphToSvg, xmlEscape, type SvgOptions } from './svg';
export { credentialFields, differentFields, type CredentialFields } from './fields';
