// The linux-cr binding: linuxCrCheckpoint(pid, fd, flags, nr), linuxCrAvailable().
#include "errors.h"
#include "linux_cr.h"
#include "registry.h"

namespace crc {
namespace {

Napi::Value LinuxCrCheckpointJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "linuxCrCheckpoint(pid, fd, flags, nr): numbers expected");
  long nr = info.Length() > 3 && info[3].IsNumber() ? long(info[3].As<Napi::Number>().Int64Value()) : 0;
  long r = 0;
  Failure f;
  if (!LinuxCrCheckpoint(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(),
                         static_cast<unsigned long>(info[2].As<Napi::Number>().Int64Value()), nr, &r, &f))
    throw FailureToJs(env, f);
  return Napi::Number::New(env, double(r));
}

Napi::Value LinuxCrAvailable(const Napi::CallbackInfo& info) {
  const LinuxCrSymbols& s = CachedLinuxCrSymbols();
  return Napi::Boolean::New(info.Env(), s.sys_checkpoint && s.sys_restart);
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("linuxCrCheckpoint", Napi::Function::New(env, LinuxCrCheckpointJs, "linuxCrCheckpoint"));
  exports.Set("linuxCrAvailable", Napi::Function::New(env, LinuxCrAvailable, "linuxCrAvailable"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
