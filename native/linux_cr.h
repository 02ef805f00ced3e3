// The linux-cr syscalls (sys_checkpoint, sys_restart) exist only in a kernel built with the
// series. Their presence is read from /proc/kallsyms by name; their numbers are never used
// otherwise: on x86-64 today 312-314 are kcmp, finit_module and sched_setattr.
#pragma once

namespace crc {

struct LinuxCrSymbols {
  bool kallsyms_readable = false;
  bool sys_checkpoint = false;
  bool sys_restart = false;
};

// Scans /proc/kallsyms (once per call).
LinuxCrSymbols ScanLinuxCrSymbols();

}  // namespace crc
