#include "cred_state_js.h"

#include <memory>

#include "errors.h"
#include "registry.h"

namespace crc {

Napi::Object CapsToJs(Napi::Env env, uint64_t inheritable, uint64_t permitted, uint64_t effective,
                      uint64_t bounding, uint64_t ambient) {
  Napi::Object caps = Napi::Object::New(env);
  caps.Set("inheritable", Napi::BigInt::New(env, inheritable));
  caps.Set("permitted", Napi::BigInt::New(env, permitted));
  caps.Set("effective", Napi::BigInt::New(env, effective));
  caps.Set("bounding", Napi::BigInt::New(env, bounding));
  caps.Set("ambient", Napi::BigInt::New(env, ambient));
  return caps;
}

Napi::Object CredStateToJs(Napi::Env env, const CredState& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("uid", s.ruid);
  o.Set("euid", s.euid);
  o.Set("suid", s.suid);
  o.Set("fsuid", s.fsuid);
  o.Set("gid", s.rgid);
  o.Set("egid", s.egid);
  o.Set("sgid", s.sgid);
  o.Set("fsgid", s.fsgid);
  Napi::Array groups = Napi::Array::New(env, s.ngroups);
  for (int i = 0; i < s.ngroups; i++) groups.Set(uint32_t(i), s.groups[i]);
  o.Set("groups", groups);
  o.Set("caps", CapsToJs(env, s.inheritable, s.permitted, s.effective, s.bounding, s.ambient));
  o.Set("securebits", s.securebits);
  o.Set("noNewPrivs", s.no_new_privs != 0);
  return o;
}

namespace {
// The calling (main JS) thread's creds.
Napi::Value ReadThreadCreds(const Napi::CallbackInfo& info) {
  std::unique_ptr<CredState> s(new CredState);  // not make_unique: no need to zero 256 KiB
  int r = ReadCredState(s.get());
  if (r < 0) throw ErrnoError(info.Env(), "read creds", -r);
  return CredStateToJs(info.Env(), *s);
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("readThreadCreds", Napi::Function::New(env, ReadThreadCreds, "readThreadCreds"));
}
}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
