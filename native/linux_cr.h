// The linux-cr syscalls (sys_checkpoint, sys_restart) exist only in a kernel built with the
// series. Their presence is read from /proc/kallsyms by name; no number is ever issued on a
// kernel that lacks them. The numbers themselves moved with the series' base kernel (on x86-64
// 301/302, 304/305, 313/314; on today's kernels all of them belong to other syscalls): they are
// chosen in JS (lib/native/linux-cr-syscalls.ts) and passed in.
#pragma once
#include "failure.h"


namespace crc {

struct LinuxCrSymbols {
  bool kallsyms_readable = false;
  bool sys_checkpoint = false;
  bool sys_restart = false;
};

// Scans /proc/kallsyms (once per call).
LinuxCrSymbols ScanLinuxCrSymbols();

// The scan of /proc/kallsyms, made once: the answer cannot change while we run.
const LinuxCrSymbols& CachedLinuxCrSymbols();

// The cached scan: true only when /proc/kallsyms shows sys_restart.
bool KernelHasSysRestart();

// The kernel's own checkpoint of pid's tree into fd, through syscall nr: the gate comes first,
// and without sys_checkpoint nothing is issued, whatever nr (Failure code ERR_NO_LINUX_CR).
bool LinuxCrCheckpoint(int pid, int fd, unsigned long flags, long nr, long* result, Failure* f);

}  // namespace crc
