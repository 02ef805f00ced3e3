// pidfds: pidfdSendSignal(fd, sig), pidfd_send_signal(2) on a pidfd the caller holds (signal 0
// asks whether the process it refers to is still alive: its pid cannot have been reused under
// it); pidfdOpen(pid), pidfd_open(2) close-on-exec (the caller closes it).
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errors.h"
#include "registry.h"

namespace crc {
namespace {

// true: sent (or, for 0, alive); false: the process has exited (ESRCH); else throws.
Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "pidfdSendSignal(fd, signal)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) == 0) return Napi::Boolean::New(env, true);
  if (errno == ESRCH) return Napi::Boolean::New(env, false);
  throw ErrnoError(env, "pidfd_send_signal", errno);
}

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "pidfdOpen(pid)");
  int pid = info[0].As<Napi::Number>().Int32Value();
  long fd = syscall(SYS_pidfd_open, pid, 0);  // pidfds are always close-on-exec
  if (fd < 0) throw ErrnoError(env, "pidfd_open", errno, pid);
  return Napi::Number::New(env, double(fd));
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
