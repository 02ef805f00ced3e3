#include "tracer_wait.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "errors.h"

namespace crc {
namespace {

// Every 50 ms while anything waits: a killed tracer's jobs fail that soon.
constexpr uint64_t kLookMs = 50;

struct Waiting {
  std::function<bool()> ended;
  std::function<void(Napi::Env)> then;
};

// One env's side: the notifier watched by its loop (unreferenced while nothing waits, so it
// keeps no loop alive), the timer of the looks, and what waits.
struct EnvWaiter {
  napi_env env = nullptr;
  int fd = -1;
  uv_poll_t poll;
  uv_timer_t timer;
  int open_handles = 0;
  std::unique_ptr<Napi::AsyncContext> context;  // for the callback scope of then()
  napi_async_cleanup_hook_handle cleanup = nullptr;
  std::vector<Waiting> waiting;
};

// Envs by napi_env: touched only on JS threads, one env each, but several envs (workers) at once.
std::mutex g_mu;
std::map<napi_env, EnvWaiter*> g_envs;

void Look(EnvWaiter* w) {
  std::vector<Waiting> ready;
  for (size_t i = 0; i < w->waiting.size();) {
    if (w->waiting[i].ended()) {
      ready.push_back(std::move(w->waiting[i]));
      w->waiting.erase(w->waiting.begin() + i);
    } else {
      i++;
    }
  }
  if (w->waiting.empty()) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
    uv_timer_stop(&w->timer);
  }
  if (ready.empty()) return;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  Napi::CallbackScope callback(env, *w->context);
  for (auto& r : ready) r.then(env);
}

void OnReadable(uv_poll_t* handle, int status, int events) {
  auto* w = static_cast<EnvWaiter*>(handle->data);
  uint64_t count;
  (void)!read(w->fd, &count, sizeof count);  // reset it (non-blocking: EAGAIN when reset already)
  Look(w);
}

void OnTimer(uv_timer_t* handle) { Look(static_cast<EnvWaiter*>(handle->data)); }

void OnClosed(uv_handle_t* handle) {
  auto* w = static_cast<EnvWaiter*>(handle->data);
  if (--w->open_handles > 0) return;
  close(w->fd);
  napi_remove_async_cleanup_hook(w->cleanup);
  delete w;
}

// The env ends: what waits is dropped (its jobs' owners wait for the tracer as they go), the
// handles are closed before the loop is.
void OnEnvEnd(napi_async_cleanup_hook_handle handle, void* arg) {
  auto* w = static_cast<EnvWaiter*>(arg);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_envs.erase(w->env);
  }
  w->waiting.clear();
  w->context.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->timer), OnClosed);
}

EnvWaiter* Waiter(Napi::Env env, int* err) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_envs.find(env);
    if (it != g_envs.end()) return it->second;
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
    *err = -EINVAL;
    return nullptr;
  }
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    *err = -errno;
    return nullptr;
  }
  auto* w = new EnvWaiter();
  w->env = env;
  w->fd = fd;
  w->context = std::make_unique<Napi::AsyncContext>(env, "cr-creds:tracer");
  w->poll.data = w;
  w->timer.data = w;
  if (int r = uv_poll_init(loop, &w->poll, fd)) {
    close(fd);
    delete w;
    *err = r;  // libuv's errors are -errno
    return nullptr;
  }
  if (int r = uv_timer_init(loop, &w->timer)) {
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), [](uv_handle_t* h) {
      auto* w = static_cast<EnvWaiter*>(h->data);
      close(w->fd);
      delete w;
    });
    *err = r;
    return nullptr;
  }
  w->open_handles = 2;
  if (int r = uv_poll_start(&w->poll, UV_READABLE, OnReadable)) {
    *err = r;
    w->waiting.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->timer), OnClosed);
    return nullptr;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
  uv_unref(reinterpret_cast<uv_handle_t*>(&w->timer));
  if (napi_add_async_cleanup_hook(env, OnEnvEnd, w, &w->cleanup) != napi_ok) {
    *err = -ENOMEM;
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->timer), OnClosed);
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  g_envs[env] = w;
  return w;
}

}  // namespace

int TracerNotifyFd(Napi::Env env) {
  int err = 0;
  EnvWaiter* w = Waiter(env, &err);
  return w ? w->fd : err;
}

void WhenTracerDone(Napi::Env env, std::function<bool()> ended, std::function<void(Napi::Env)> then) {
  int err = 0;
  EnvWaiter* w = Waiter(env, &err);
  if (!w) throw ErrnoError(env, "eventfd", -err, 0, "waiting for the ptrace helper");
  if (w->waiting.empty()) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&w->poll));
    uv_timer_start(&w->timer, OnTimer, kLookMs, kLookMs);
  }
  w->waiting.push_back({std::move(ended), std::move(then)});
}

}  // namespace crc
