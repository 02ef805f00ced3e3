// One-shot helper processes for experiments that change a process for good (setns into other
// user namespaces, a throwaway securebit): a plain fork that runs one function on its own copy
// of our memory and sends an answer back through a pipe. Nothing of the C library's internals is
// relied on: the child is a separate process with its own thread block and errno.
#pragma once
#include <stddef.h>

#include <vector>

namespace crc {

// Runs fn(arg) in a forked child, then has the child write the answer_len bytes at `answer` (in
// its copy of memory, as fn left them) back into ours. fn runs with every signal blocked and may
// only make syscalls (async-signal-safe: Node is multi-threaded, its locks may be held in the
// copy). Returns fn's exit code (0..255; 255 if the child was killed or its answer fell short),
// or -errno if the child could not be started.
int RunOneShotChild(int (*fn)(void* arg), void* arg, void* answer, size_t answer_len);

// Pids of one-shot children at work, left out of tree walks.
std::vector<int> OneShotChildPids();

}  // namespace crc
