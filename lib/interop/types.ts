// What every interop format shares: the result of an export, of an import, and the one error.
import type { Image } from '../format/types';

/** The formats `export` writes. */
export type ExportFormat = 'oci' | 'systemd' | 'k8s' | 'setpriv' | 'bwrap';
/** The formats `import` reads. */
export type ImportFormat = 'oci' | 'systemd' | 'k8s';

/**
 * One thing of the task that the target cannot state (or, for an import, one default the spec
 * left to the runtime). `what` is a stable key (docs/interop.md lists them), `detail` a sentence.
 */
export interface InteropNote {
  what: string;
  detail: string;
}

/** Which task of the image to export: by index (default 0) or by its checkpointed pid. */
export interface TaskChoice {
  task?: number;
  pid?: number;
}

export interface Exported<T> {
  /** The index of the exported task in the image. */
  task: number;
  /** The format's own object (OCI and k8s), the drop-in's settings (systemd), or argv (setpriv, bwrap). */
  value: T;
  /** The text a tool reads: JSON, YAML, a unit drop-in, a shell-quoted command prefix. */
  text: string;
  /** What the target cannot express; empty when the export is exact. */
  unexpressed: InteropNote[];
}

export interface Imported {
  /** One task; its creds are the ones the runtime sets right before it execs the program. */
  image: Image;
  /** Defaults taken for what the spec does not state. */
  assumed: InteropNote[];
  /** What the spec states that an image cannot carry (ignored). */
  ignored: InteropNote[];
}

/** Input that is not a valid spec / JSON, or a task choice the image does not have. */
export class InteropError extends Error {
  override name = 'InteropError';
  readonly code = 'ERR_INTEROP_INPUT';
}
