// The file-capability binding: readFileCaps(path), setFileCaps(path, caps | null).
#include "errors.h"
#include "file_caps.h"
#include "registry.h"

namespace crc {
namespace {

// readFileCaps(path) -> { permitted, inheritable, effective, rootid? } | null
Napi::Value ReadFileCapsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "readFileCaps(path)");
  FileCaps caps;
  bool present = false;
  Failure f;
  if (!ReadFileCaps(info[0].As<Napi::String>().Utf8Value(), &caps, &present, &f)) throw FailureToJs(env, f);
  if (!present) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("permitted", Napi::BigInt::New(env, caps.permitted));
  o.Set("inheritable", Napi::BigInt::New(env, caps.inheritable));
  o.Set("effective", Napi::Boolean::New(env, caps.effective));
  if (caps.has_rootid) o.Set("rootid", Napi::Number::New(env, double(caps.rootid)));
  return o;
}

// setFileCaps(path, { permitted, inheritable, effective, rootid? } | null): null removes them.
Napi::Value SetFileCapsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) throw Napi::TypeError::New(env, "setFileCaps(path, caps|null)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Failure f;
  if (!info[1].IsObject()) {
    if (!RemoveFileCaps(path, &f)) throw FailureToJs(env, f);
    return env.Undefined();
  }
  Napi::Object c = info[1].As<Napi::Object>();
  auto u64 = [&](const char* k) {
    bool lossless = false;
    Napi::Value v = c.Get(k);
    if (!v.IsBigInt()) throw Napi::TypeError::New(env, std::string("setFileCaps: ") + k + " must be a bigint");
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  };
  FileCaps caps;
  caps.permitted = u64("permitted");
  caps.inheritable = u64("inheritable");
  caps.effective = c.Get("effective").ToBoolean();
  if (c.Get("rootid").IsNumber()) {
    caps.has_rootid = true;
    caps.rootid = uint32_t(c.Get("rootid").As<Napi::Number>().Int64Value());
  }
  if (!WriteFileCaps(path, caps, &f)) throw FailureToJs(env, f);
  return env.Undefined();
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("readFileCaps", Napi::Function::New(env, ReadFileCapsJs, "readFileCaps"));
  exports.Set("setFileCaps", Napi::Function::New(env, SetFileCapsJs, "setFileCaps"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
