// The addon (and with it the tracer, the helper process a checkpoint starts) is shared by the
// test files a jest worker runs in turn, while each file has its own copy of lib/checkpoint and
// of its idle timer. Ending the tracer with the file keeps one file's timer from ending it in the
// middle of the next file, where counts of children and fds would see it go.
import { stopTracer } from '../../lib/checkpoint';

afterAll(() => {
  stopTracer();
});
