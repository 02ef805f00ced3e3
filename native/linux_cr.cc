// The gate in front of the linux-cr syscalls: no syscall is issued unless /proc/kallsyms shows
// the kernel has them.
#include "linux_cr.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <string>

#include "errors.h"
#include "registry.h"

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

namespace {

// The scan reads all of /proc/kallsyms (tens of ms); the answer cannot change while we run.
const LinuxCrSymbols& CachedSymbols() {
  static std::once_flag once;
  static LinuxCrSymbols syms;
  std::call_once(once, [] { syms = ScanLinuxCrSymbols(); });
  return syms;
}

Napi::Error NoLinuxCr(Napi::Env env, const std::string& why) {
  Napi::Error e = Napi::Error::New(env, "the running kernel has no linux-cr sys_checkpoint: " + why);
  e.Set("code", Napi::String::New(env, "ERR_NO_LINUX_CR"));
  return e;
}

// linuxCrCheckpoint(pid, fd, flags, nr): the kernel's own checkpoint of pid's tree into fd,
// through syscall nr. The gate comes first: without sys_checkpoint nothing is issued, whatever nr.
Napi::Value LinuxCrCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "linuxCrCheckpoint(pid, fd, flags, nr): numbers expected");
  const LinuxCrSymbols& s = CachedSymbols();
  if (!s.kallsyms_readable) throw NoLinuxCr(env, "/proc/kallsyms is unreadable");
  if (!s.sys_checkpoint) throw NoLinuxCr(env, "sys_checkpoint is not in /proc/kallsyms");
  if (info.Length() < 4 || !info[3].IsNumber() || info[3].As<Napi::Number>().Int64Value() <= 0)
    throw NoLinuxCr(env, "no sys_checkpoint syscall number was given");
  long nr = long(info[3].As<Napi::Number>().Int64Value());
  int pid = info[0].As<Napi::Number>().Int32Value();
  long r = syscall(nr, pid, info[1].As<Napi::Number>().Int32Value(),
                   static_cast<unsigned long>(info[2].As<Napi::Number>().Int64Value()), -1);
  if (r < 0) throw ErrnoError(env, "checkpoint", errno, pid);
  return Napi::Number::New(env, double(r));
}

}  // namespace

bool KernelHasSysRestart() {
  const LinuxCrSymbols& s = CachedSymbols();
  return s.kallsyms_readable && s.sys_restart;
}

namespace {

Napi::Value LinuxCrAvailable(const Napi::CallbackInfo& info) {
  const LinuxCrSymbols& s = CachedSymbols();
  return Napi::Boolean::New(info.Env(), s.sys_checkpoint && s.sys_restart);
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("linuxCrCheckpoint", Napi::Function::New(env, LinuxCrCheckpoint, "linuxCrCheckpoint"));
  exports.Set("linuxCrAvailable", Napi::Function::New(env, LinuxCrAvailable, "linuxCrAvailable"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
