// Kernel probe: what the running kernel offers for credential checkpoint/restart.
// Reads only; the experiments (user namespaces, securebits, ptrace) run in throwaway children.
#pragma once
#include <sys/utsname.h>

#include "failure.h"
#include "linux_cr.h"

namespace crc {

struct KernelProbe {
  struct utsname uts;
  int cap_last_cap;
  long max_user_namespaces;  // -1: unreadable
  int create_userns_err;     // 0, or the errno unshare(CLONE_NEWUSER) gave
  int max_depth;             // user namespaces nest this deep below ours
  int max_depth_err;         // then the kernel refused with this errno (0: it did not)
  long known_securebits;     // the mask, or -errno when it cannot be told
  int ptrace_err;            // 0: seizing a child of ours works
  LinuxCrSymbols linux_cr;
};

// false only when uname fails.
bool ProbeKernel(KernelProbe* p, Failure* f);

}  // namespace crc
