// The probe binding: probe() (ProbeResult in lib/native/binding.ts).
#include "errors.h"
#include "probe.h"
#include "registry.h"

namespace crc {
namespace {

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KernelProbe p;
  Failure f;
  if (!ProbeKernel(&p, &f)) throw FailureToJs(env, f);

  Napi::Object out = Napi::Object::New(env);
  out.Set("sysname", p.uts.sysname);
  out.Set("release", p.uts.release);
  out.Set("version", p.uts.version);
  out.Set("machine", p.uts.machine);
  out.Set("capLastCap", p.cap_last_cap);

  Napi::Object userns = Napi::Object::New(env);
  userns.Set("maxUserNamespaces", p.max_user_namespaces);
  userns.Set("canCreate", p.create_userns_err == 0);
  if (p.create_userns_err != 0) userns.Set("createError", ErrnoName(p.create_userns_err));
  userns.Set("maxDepth", p.max_depth);
  if (p.max_depth_err != 0) userns.Set("maxDepthError", ErrnoName(p.max_depth_err));
  out.Set("userNamespaces", userns);

  Napi::Object secbits = Napi::Object::New(env);
  long known = p.known_securebits;
  secbits.Set("known", known < 0 ? Napi::Value(env.Null()) : Napi::Number::New(env, double(known)));
  if (known < 0) secbits.Set("error", ErrnoName(int(-known)));
  out.Set("securebits", secbits);

  Napi::Object pt = Napi::Object::New(env);
  pt.Set("works", p.ptrace_err == 0);
  if (p.ptrace_err != 0) pt.Set("error", ErrnoName(p.ptrace_err));
  out.Set("ptrace", pt);

  Napi::Object cr = Napi::Object::New(env);
  cr.Set("kallsymsReadable", p.linux_cr.kallsyms_readable);
  cr.Set("sysCheckpoint", p.linux_cr.sys_checkpoint);
  cr.Set("sysRestart", p.linux_cr.sys_restart);
  out.Set("linuxCr", cr);
  return out;
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
