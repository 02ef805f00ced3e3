// Shared by the bindings that work off the JS thread (live_read, userns_js): an AsyncWorker that
// settles a Promise, the Failure (failure.h) made into a JS error on the JS thread.
#pragma once
#include <napi.h>

#include <functional>
#include <string>

#include "errors.h"
#include "failure.h"

namespace crc {

// Settles a Promise with result(env), or rejects it with the failure (or what result threw).
inline void SettlePromise(Napi::Env env, const Napi::Promise::Deferred& deferred, const Failure& f,
                          const std::function<Napi::Value(Napi::Env)>& result) {
  if (f.set) {
    deferred.Reject(FailureToJs(env, f).Value());
    return;
  }
  try {
    deferred.Resolve(result(env));
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
  }
}

// Runs `work` on the libuv pool, then `then` on the JS thread, which settles the Promise (now or
// later); Start's `result` form settles it at once (SettlePromise).
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void(Failure*)>;
  using Result = std::function<Napi::Value(Napi::Env)>;
  using Then = std::function<void(Napi::Env, Napi::Promise::Deferred, const Failure&)>;

  static Napi::Promise Start(Napi::Env env, Work work, Result result) {
    return StartThen(env, std::move(work),
                     [result = std::move(result)](Napi::Env env, Napi::Promise::Deferred d,
                                                  const Failure& f) { SettlePromise(env, d, f, result); });
  }

  static Napi::Promise StartThen(Napi::Env env, Work work, Then then) {
    auto* w = new PromiseWorker(env, std::move(work), std::move(then));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override { work_(&failure_); }
  void OnOK() override { then_(Env(), deferred_, failure_); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  PromiseWorker(Napi::Env env, Work work, Then then)
      : Napi::AsyncWorker(env, "cr-creds"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        then_(std::move(then)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Then then_;
  Failure failure_;
};

}  // namespace crc
