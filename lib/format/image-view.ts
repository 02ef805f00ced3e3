// The DataView decode() reads an image through. Making a DataView is a call into the engine's
// runtime that costs as much as parsing a few records, and every small image would pay it, so an
// image of up to SMALL_IMAGE bytes is copied into a buffer kept for the purpose (one memcpy) and
// read through that buffer's one view. A larger image gets a view of its own, a cost it hardly
// notices.
//
// One buffer serves every decode: decode() is synchronous and runs no caller code between the
// copy and its last read. The view reaches past the image's end (into the bytes of an earlier
// image): decode() reads nothing there, as the framer checks each record's len against the bytes
// left before the parser reads the record.

/** The largest image copied (a handful of tasks with creds of their own). */
const SMALL_IMAGE = 4096;
const SMALL = new Uint8Array(SMALL_IMAGE);
const SMALL_VIEW = new DataView(SMALL.buffer);

/** A view whose offsets 0 .. n - 1 read `bytes` (n its length), valid until the next call. */
export function imageView(bytes: Uint8Array, n: number): DataView {
  if (n > SMALL_IMAGE) return new DataView(bytes.buffer, bytes.byteOffset, n);
  SMALL.set(bytes);
  return SMALL_VIEW;
}
