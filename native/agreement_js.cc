// The agreement binding: runCredOps(ops, exec?) (agreement.h).
#include <string>

#include "agreement.h"
#include "cred_state_js.h"
#include "errors.h"
#include "ops_js.h"
#include "registry.h"

namespace crc {
namespace {

// runCredOps(ops, exec?) -> { errors: (string|null)[], creds, exec?: { error?: string, output?: string } }
Napi::Value RunCredOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "runCredOps(ops, exec?)");
  Napi::Array ops = info[0].As<Napi::Array>();
  Plan plan;
  for (uint32_t i = 0; i < ops.Length(); i++) {
    Napi::Value v = ops.Get(i);
    if (!v.IsObject()) throw Napi::TypeError::New(env, "runCredOps: ops must be objects");
    Napi::Object o = v.As<Napi::Object>();
    std::string name = o.Get("op").ToString().Utf8Value();
    if (name == "sys_restart" || name == "execve")
      throw Napi::TypeError::New(env, "runCredOps: op '" + name + "' is not allowed in the list (execve: pass exec)");
    plan.ops.push_back(ParseOp(&plan, o));
  }
  bool exec = info.Length() > 1 && info[1].IsObject();
  std::string exec_path = exec ? info[1].As<Napi::Object>().Get("path").ToString().Utf8Value() : "";

  AgreementRun run;
  Failure f;
  if (!RunAgreementOps(plan, exec ? &exec_path : nullptr, &run, &f)) throw FailureToJs(env, f);
  Napi::Object out = Napi::Object::New(env);
  Napi::Array errs = Napi::Array::New(env, run.errors.size());
  for (size_t i = 0; i < run.errors.size(); i++)
    errs.Set(uint32_t(i), run.errors[i] == 0 ? env.Null() : Napi::Value(Napi::String::New(env, ErrnoName(run.errors[i]))));
  out.Set("errors", errs);
  out.Set("creds", CredStateToJs(env, *run.creds));
  if (exec) {
    Napi::Object x = Napi::Object::New(env);
    if (run.exec_failed) x.Set("error", ErrnoName(run.exec_errno));
    else x.Set("output", run.exec_output);
    out.Set("exec", x);
  }
  return out;
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("runCredOps", Napi::Function::New(env, RunCredOps, "runCredOps"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
