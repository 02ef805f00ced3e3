// Ids a cred holds without a mapping in its namespace, in both views: as the task sees them
// (65534) and as the nearest ancestor namespace that maps them sees them.
import type { Cred, UserNamespace } from '../model/types';
import { ID_FIELDS, OVERFLOW_ID, type IdField, idKind } from '../model/unmapped';
import { UNMAPPED_GROUP, unmappedEntries } from '../format/unmapped-ext';

export interface UnmappedView {
  /** The cred field, or 'groups' for a supplementary group. */
  field: IdField | 'groups';
  kind: 'uid' | 'gid';
  /** As the task sees it in its own namespace: always the overflow id. */
  shown: number;
  /** The nearest ancestor namespace that maps it, and the id there. */
  ancestor: { ns: UserNamespace; id: number };
}

export function unmappedViews(c: Cred): UnmappedView[] {
  let u: ReturnType<typeof unmappedEntries>;
  try {
    u = unmappedEntries(c);
  } catch {
    return []; // an inconsistent table (built outside the rules): the shown ids are all we have
  }
  return (u?.entries ?? []).map((e) => {
    const field = e.field === UNMAPPED_GROUP ? 'groups' : ID_FIELDS[e.field];
    return { field, kind: field === 'groups' ? 'gid' : idKind(field), shown: OVERFLOW_ID, ancestor: { ns: e.ns, id: e.id } };
  });
}

/** "group 65534 in ns1 = gid 10 in ns0" */
export function unmappedText(v: UnmappedView, own: string, ancestor: string): string {
  return `${v.field === 'groups' ? 'group' : v.field} ${v.shown} in ${own} = ${v.kind} ${v.ancestor.id} in ${ancestor}`;
}
