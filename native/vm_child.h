// One-shot helper processes that share our memory (clone CLONE_VM) for a single function:
// setns into other namespaces and experiments (a throwaway securebit), which change the helper
// for good. The calling thread sleeps until the helper is done with our memory.
#pragma once
#include <memory>
#include <vector>

namespace crc {

// Runs fn(arg) in a child that shares our memory; the calling thread sleeps until the child is
// done with our memory (it is then exiting). fn runs with every signal blocked and may use only
// syscalls and memory prepared before the call: no allocation, no locks. Returns fn's exit code
// (0..255; 255 if the child was killed), or -errno if clone failed.
int RunInVmChild(int (*fn)(void*), void* arg);

// Reaps helpers that were still exiting when their caller went on.
void ReapVmChildren();

// Pids of one-shot helpers still to be seen in /proc (running, or exiting).
std::vector<int> VmChildPids();

}  // namespace crc
