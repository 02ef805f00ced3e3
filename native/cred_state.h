// The calling thread's credentials, read with raw syscalls only (no allocation, no locks), so
// the same code serves the addon's main thread and a forked child before execve.
#pragma once
#include <stdint.h>

namespace crc {

constexpr int kMaxGroups = 65536;  // NGROUPS_MAX

struct CredState {
  uint32_t ruid, euid, suid, fsuid;
  uint32_t rgid, egid, sgid, fsgid;
  uint64_t inheritable, permitted, effective, bounding, ambient;
  int32_t securebits;
  int32_t no_new_privs;
  int32_t ngroups;
  uint32_t groups[kMaxGroups];  // ~256 KiB: allocate before fork, never on a child's stack
};

// Fills *s for the calling thread. Returns 0, or -errno (s is then partly filled).
// Async-signal-safe.
int ReadCredState(CredState* s);

}  // namespace crc
