// The gate in front of the linux-cr syscalls: no syscall is issued unless /proc/kallsyms shows
// the kernel has them.
#include "linux_cr.h"

#include <errno.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <string>

namespace crc {

LinuxCrSymbols ScanLinuxCrSymbols() {
  LinuxCrSymbols s;
  std::ifstream f("/proc/kallsyms");
  if (!f) return s;
  s.kallsyms_readable = true;
  std::string line;
  while (std::getline(f, line)) {
    size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    std::string sym = line.substr(sp + 1);
    size_t tab = sym.find('\t');  // module symbols: "name\t[module]"
    if (tab != std::string::npos) sym.resize(tab);
    if (sym == "sys_checkpoint" || sym == "__x64_sys_checkpoint" ||
        sym == "__arm64_sys_checkpoint" || sym == "__s390x_sys_checkpoint")
      s.sys_checkpoint = true;
    if (sym == "sys_restart" || sym == "__x64_sys_restart" || sym == "__arm64_sys_restart" ||
        sym == "__s390x_sys_restart")
      s.sys_restart = true;
  }
  return s;
}

// It reads all of /proc/kallsyms (tens of ms).
const LinuxCrSymbols& CachedLinuxCrSymbols() {
  static std::once_flag once;
  static LinuxCrSymbols syms;
  std::call_once(once, [] { syms = ScanLinuxCrSymbols(); });
  return syms;
}

bool KernelHasSysRestart() {
  const LinuxCrSymbols& s = CachedLinuxCrSymbols();
  return s.kallsyms_readable && s.sys_restart;
}

bool LinuxCrCheckpoint(int pid, int fd, unsigned long flags, long nr, long* result, Failure* f) {
  const std::string why = "the running kernel has no linux-cr sys_checkpoint: ";
  const LinuxCrSymbols& s = CachedLinuxCrSymbols();
  if (!s.kallsyms_readable) f->Coded("ERR_NO_LINUX_CR", why + "/proc/kallsyms is unreadable", 0);
  else if (!s.sys_checkpoint) f->Coded("ERR_NO_LINUX_CR", why + "sys_checkpoint is not in /proc/kallsyms", 0);
  else if (nr <= 0) f->Coded("ERR_NO_LINUX_CR", why + "no sys_checkpoint syscall number was given", 0);
  if (f->set) return false;
  *result = syscall(nr, pid, fd, flags, -1);
  if (*result < 0) {
    f->Errno("checkpoint", errno, pid);
    return false;
  }
  return true;
}

}  // namespace crc
