export { renderReport } from './text';
export { toInspectJson, INSPECT_SCHEMA_VERSION, type InspectJson, type CredJson, type TaskJson, type UserNamespaceJson } from './json';
export { collectNamespaces, type NamespaceEntry } from './namespaces';
