// Securebits read without touching the task: a BPF task iterator, run in the kernel for one
// thread, copies out the securebits of the thread's objective credentials (those /proc shows).
// The task is never stopped, traced or written to, so this works where ptrace would stop a task
// or be refused (a task already traced, one sleeping uninterruptibly), and it costs one round of
// system calls on the calling thread rather than a hand-off to the tracer (tracer.h).
//
// Open to a caller that may load such a program: CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) in
// the initial user namespace, and a kernel with BTF (/sys/kernel/btf/vmlinux) whose task iterator
// takes one thread (6.1 and later; 6.1 to 6.11 with the fix of 6.12: tried as the program loads). The field offsets come from the running kernel's BTF; the program
// is a few instructions of our own, verified by the kernel as it loads. Checked again at every
// use: a process that dropped those capabilities since the load no longer uses the program it
// holds (it reads as unavailable, and the program is let go).
#pragma once
#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

#include "unique_fd.h"

namespace crc {

// The step a failure of the reader names.
extern const char kBpfReaderName[];

// What the program reads of a task: its pid and tgid as the kernel numbers them (those of the
// initial pid namespace), and its securebits.
struct BpfTask {
  uint32_t pid;
  uint32_t tgid;
  uint32_t securebits;
};

// The program, held for the reads of one checkpoint: a release meanwhile (SecurebitsBpfRelease)
// lets it go once they end.
class SecurebitsBpfReader {
 public:
  // Loads the program if need be (reading the kernel's BTF, once per process); false, and *why
  // (for the error of a caller that asked for this reader), when it cannot be used now.
  bool Open(std::string* why);

  // The securebits of thread `tid` of process `tgid` (ids of our pid namespace): 0 and *value,
  // or -errno: -ESRCH when there is no such thread (in the initial pid namespace, also when the
  // tid now names a thread of another process), -EPERM when the caller has lost the
  // capabilities since Open (or Open failed).
  int Read(int tid, int tgid, uint32_t* value) const;

  // Every task of the system, by pid, ascending: one pass of the program, for a caller that
  // wants many. 0, or -errno: -EXDEV outside the initial pid namespace (the pids the kernel
  // gives are not ours there: read each thread then), else as Read.
  int ReadAll(std::vector<BpfTask>* all) const;

 private:
  std::shared_ptr<UniqueFd> prog_;
};

// Lets the program go (a reader that holds it keeps it till it ends; the next Open loads it
// again, the kernel's field offsets kept).
void SecurebitsBpfRelease();

}  // namespace crc
