// Kernel probe: what the running kernel offers for credential checkpoint/restart.
// Reads only; the one experiment (can a user namespace be created?) runs in a forked child.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "errors.h"
#include "registry.h"

namespace crc {
namespace {

bool ReadFirstLine(const char* path, std::string* out) {
  std::ifstream f(path);
  if (!f) return false;
  std::getline(f, *out);
  return true;
}

long ReadLong(const char* path, long fallback) {
  std::string s;
  if (!ReadFirstLine(path, &s)) return fallback;
  try {
    return std::stol(s);
  } catch (...) {
    return fallback;
  }
}

// /proc/sys/kernel/cap_last_cap where present; else the highest cap PR_CAPBSET_READ accepts.
int CapLastCap() {
  long v = ReadLong("/proc/sys/kernel/cap_last_cap", -1);
  if (v >= 0) return static_cast<int>(v);
  int cap = 0;
  while (cap < 64 && prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0) cap++;
  return cap;
}

// Forks a child that tries unshare(CLONE_NEWUSER); the child does nothing else before _exit,
// which keeps it safe in a multi-threaded parent. Returns 0 or the errno the child saw.
int TryCreateUserNamespace() {
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : (errno & 0xff));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return EIO;
}

// The linux-cr syscalls exist only if the kernel was built with the series: look them up by
// name. Their numbers are never used otherwise (312-314 are other syscalls on x86-64 today).
void ScanKallsyms(bool* checkpoint, bool* restart, bool* readable) {
  *checkpoint = *restart = *readable = false;
  std::ifstream f("/proc/kallsyms");
  if (!f) return;
  *readable = true;
  std::string line;
  while (std::getline(f, line)) {
    size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    std::string sym = line.substr(sp + 1);
    size_t tab = sym.find('\t');  // module symbols: "name\t[module]"
    if (tab != std::string::npos) sym.resize(tab);
    if (sym == "sys_checkpoint" || sym == "__x64_sys_checkpoint" ||
        sym == "__arm64_sys_checkpoint" || sym == "__s390x_sys_checkpoint")
      *checkpoint = true;
    if (sym == "sys_restart" || sym == "__x64_sys_restart" || sym == "__arm64_sys_restart" ||
        sym == "__s390x_sys_restart")
      *restart = true;
  }
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct utsname u;
  if (uname(&u) != 0) throw ErrnoError(env, "uname", errno);

  Napi::Object out = Napi::Object::New(env);
  out.Set("sysname", u.sysname);
  out.Set("release", u.release);
  out.Set("version", u.version);
  out.Set("machine", u.machine);
  out.Set("capLastCap", CapLastCap());

  Napi::Object userns = Napi::Object::New(env);
  userns.Set("maxUserNamespaces", ReadLong("/proc/sys/user/max_user_namespaces", -1));
  int err = TryCreateUserNamespace();
  userns.Set("canCreate", err == 0);
  if (err != 0) userns.Set("createError", ErrnoName(err));
  out.Set("userNamespaces", userns);

  bool ckpt, rst, readable;
  ScanKallsyms(&ckpt, &rst, &readable);
  Napi::Object cr = Napi::Object::New(env);
  cr.Set("kallsymsReadable", readable);
  cr.Set("sysCheckpoint", ckpt);
  cr.Set("sysRestart", rst);
  out.Set("linuxCr", cr);
  return out;
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
