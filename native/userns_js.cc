// The user-namespace binding: readUserNsChain(pid) (a Promise: the helper works off the JS
// thread), callerUserNsInode().
#include <memory>
#include <vector>

#include "live_worker.h"
#include "registry.h"
#include "userns.h"

namespace crc {
namespace {

Napi::Value LevelsToJs(Napi::Env env, const std::vector<UserNsLevel>& levels) {
  Napi::Array out = Napi::Array::New(env, levels.size());
  auto mapToJs = [&](const std::vector<IdExtent>& m) {
    Napi::Array a = Napi::Array::New(env, m.size());
    for (size_t i = 0; i < m.size(); i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("inside", m[i].inside);
      e.Set("outside", m[i].outside);
      e.Set("count", m[i].count);
      a.Set(uint32_t(i), e);
    }
    return a;
  };
  for (size_t k = 0; k < levels.size(); k++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("inode", Napi::BigInt::New(env, levels[k].inode));
    o.Set("ownerUid", levels[k].owner_uid);
    o.Set("uidMap", mapToJs(levels[k].uid_map));
    o.Set("gidMap", mapToJs(levels[k].gid_map));
    o.Set("setgroups", levels[k].setgroups_allowed ? "allow" : "deny");
    out.Set(uint32_t(k), o);
  }
  return out;
}

Napi::Value ReadUserNsChainJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(env, "readUserNsChain(pid): pid must be a number");
  int pid = info[0].As<Napi::Number>().Int32Value();
  auto levels = std::make_shared<std::vector<UserNsLevel>>();
  return PromiseWorker::Start(
      env, [pid, levels](Failure* f) { ReadUserNsChain(pid, levels.get(), f); },
      [levels](Napi::Env env) { return LevelsToJs(env, *levels); });
}

Napi::Value CallerUserNsJs(const Napi::CallbackInfo& info) {
  uint64_t ino;
  Failure f;
  if (!CallerUserNsInode(&ino, &f)) throw FailureToJs(info.Env(), f);
  return Napi::BigInt::New(info.Env(), ino);
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("readUserNsChain", Napi::Function::New(env, ReadUserNsChainJs, "readUserNsChain"));
  exports.Set("callerUserNsInode", Napi::Function::New(env, CallerUserNsJs, "callerUserNsInode"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
