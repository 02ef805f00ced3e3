#include "ops_js.h"

#include <memory>
#include <string>

namespace crc {

uint64_t ToU64(Napi::Value v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(v.Env(), std::string(what) + ": out of range");
    return x;
  }
  if (v.IsNumber()) return uint64_t(v.As<Napi::Number>().Int64Value());
  throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a bigint");
}

namespace {

int64_t ToI64(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("op.") + key + ": expected a number");
  return v.As<Napi::Number>().Int64Value();
}

// "inside outside count\n" per extent, as /proc/PID/uid_map takes it.
void AppendMap(Plan* plan, Napi::Value v, uint32_t* off, uint32_t* len) {
  *off = uint32_t(plan->maps.size());
  *len = 0;
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "map: expected an array of extents");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Object e = a.Get(i).As<Napi::Object>();
    plan->maps += std::to_string(uint32_t(ToI64(e, "inside"))) + " " +
                  std::to_string(uint32_t(ToI64(e, "outside"))) + " " +
                  std::to_string(uint32_t(ToI64(e, "count"))) + "\n";
  }
  *len = uint32_t(plan->maps.size()) - *off;
}

// A newuidmap / newgidmap command line for `map`: `path PID inside outside count ...` (the
// programs take the inside id first). Returns 1 + its index in plan->helpers, 0 for no helper.
uint32_t AddHelper(Plan* plan, Napi::Value path_v, Napi::Value map_v, bool uid) {
  if (path_v.IsUndefined() || path_v.IsNull()) return 0;
  Napi::Env env = path_v.Env();
  const char* what = uid ? "unshare_user.uidHelper" : "unshare_user.gidHelper";
  if (!path_v.IsString()) throw Napi::TypeError::New(env, std::string(what) + ": expected a path");
  std::string path = path_v.As<Napi::String>().Utf8Value();
  if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos)
    throw Napi::TypeError::New(env, std::string(what) + ": expected an absolute path");
  if (!map_v.IsArray() || map_v.As<Napi::Array>().Length() == 0)
    throw Napi::TypeError::New(env, std::string(what) + ": the map to write is missing");
  auto cmd = std::make_unique<HelperCmd>();
  std::vector<size_t> starts;
  auto arg = [&](const std::string& a) {
    starts.push_back(cmd->text.size());
    cmd->text += a;
    cmd->text.push_back('\0');
  };
  arg(path);
  arg(std::string(HelperCmd::kPidSlot - 1, '0'));  // the pid slot, filled in by the map writer
  Napi::Array a = map_v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Object e = a.Get(i).As<Napi::Object>();
    arg(std::to_string(uint32_t(ToI64(e, "inside"))));
    arg(std::to_string(uint32_t(ToI64(e, "outside"))));
    arg(std::to_string(uint32_t(ToI64(e, "count"))));
  }
  for (size_t st : starts) cmd->argv.push_back(&cmd->text[st]);
  cmd->argv.push_back(nullptr);
  plan->helpers.push_back(std::move(cmd));
  return uint32_t(plan->helpers.size());
}

}  // namespace

OpRec ParseOp(Plan* plan, Napi::Object o) {
  Napi::Env env = o.Env();
  OpRec r = {};
  std::string name = o.Get("op").ToString().Utf8Value();
  if (name == "setresuid" || name == "setresgid") {
    bool u = name == "setresuid";
    r.kind = u ? OpKind::kSetresuid : OpKind::kSetresgid;
    r.a = ToI64(o, u ? "ruid" : "rgid");
    r.b = ToI64(o, u ? "euid" : "egid");
    r.c = ToI64(o, u ? "suid" : "sgid");
  } else if (name == "setfsuid") {
    r.kind = OpKind::kSetfsuid;
    r.a = ToI64(o, "fsuid");
  } else if (name == "setfsgid") {
    r.kind = OpKind::kSetfsgid;
    r.a = ToI64(o, "fsgid");
  } else if (name == "setgroups") {
    r.kind = OpKind::kSetgroups;
    Napi::Value g = o.Get("gids");
    if (!g.IsArray()) throw Napi::TypeError::New(env, "setgroups: gids must be an array");
    Napi::Array a = g.As<Napi::Array>();
    if (a.Length() > uint32_t(kMaxGroups)) throw Napi::RangeError::New(env, "setgroups: too many groups");
    r.groups_off = uint32_t(plan->gids.size());
    r.groups_len = a.Length();
    for (uint32_t i = 0; i < a.Length(); i++)
      plan->gids.push_back(uint32_t(a.Get(i).As<Napi::Number>().Int64Value()));
  } else if (name == "capset") {
    r.kind = OpKind::kCapset;
    r.inheritable = ToU64(o.Get("inheritable"), "capset.inheritable");
    r.permitted = ToU64(o.Get("permitted"), "capset.permitted");
    r.effective = ToU64(o.Get("effective"), "capset.effective");
  } else if (name == "set_securebits") {
    r.kind = OpKind::kSetSecurebits;
    r.a = ToI64(o, "bits");
  } else if (name == "set_keepcaps") {
    r.kind = OpKind::kSetKeepcaps;
    r.a = o.Get("on").ToBoolean() ? 1 : 0;
  } else if (name == "capbset_drop" || name == "ambient_raise" || name == "ambient_lower") {
    r.kind = name == "capbset_drop"    ? OpKind::kCapbsetDrop
             : name == "ambient_raise" ? OpKind::kAmbientRaise
                                       : OpKind::kAmbientLower;
    r.a = ToI64(o, "cap");
  } else if (name == "ambient_clear_all") {
    r.kind = OpKind::kAmbientClearAll;
  } else if (name == "set_no_new_privs") {
    r.kind = OpKind::kSetNoNewPrivs;
  } else if (name == "unshare_user") {
    r.kind = OpKind::kUnshareUser;
    std::string sg = o.Has("setgroups") && o.Get("setgroups").IsString()
                         ? o.Get("setgroups").As<Napi::String>().Utf8Value()
                         : "";
    r.setgroups = sg == "allow" ? 1 : sg == "deny" ? 2 : 0;
    AppendMap(plan, o.Get("uidMap"), &r.uid_off, &r.uid_len);
    AppendMap(plan, o.Get("gidMap"), &r.gid_off, &r.gid_len);
    r.uid_helper = AddHelper(plan, o.Get("uidHelper"), o.Get("uidMap"), true);
    r.gid_helper = AddHelper(plan, o.Get("gidHelper"), o.Get("gidMap"), false);
  } else if (name == "sys_restart") {
    r.kind = OpKind::kSysRestart;
  } else {
    throw Napi::TypeError::New(env, "spawn: op '" + name + "' cannot run in the restart child");
  }
  return r;
}

}  // namespace crc
