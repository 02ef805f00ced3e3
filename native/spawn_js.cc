// The spawn binding: spawn(opts) starts a program in a child that first takes on given
// credentials (spawn.h). The child's exit is watched through a pidfd in the libuv loop and reaped
// with waitid(P_PIDFD): no SIGCHLD handler, nothing of Node's own child handling touched.
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "cred_state.h"
#include "errors.h"
#include "linux_cr.h"
#include "ops_js.h"
#include "registry.h"
#include "spawn.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace crc {
namespace {

const char* const kVerifyNames[kVFieldCount] = {
    "uid",         "euid",      "suid",      "fsuid",    "gid",     "egid",
    "sgid",        "fsgid",     "groups",    "inheritable", "permitted", "effective",
    "bounding",    "ambient",   "securebits", "noNewPrivs"};
const char* const kMapNames[] = {"", "unshare", "setgroups", "uid_map", "gid_map", "helper", "newuidmap", "newgidmap"};
const char* const kPhaseNames[] = {"", "op", "verify", "stdio", "chdir", "execve", "signals", "die-with-parent"};

// ---------------------------------------------------------------------------------------------
// JS options -> Plan

std::vector<std::string> ToStrings(Napi::Value v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value s = a.Get(i);
    if (!s.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected strings");
    std::string str = s.As<Napi::String>().Utf8Value();
    if (str.find('\0') != std::string::npos)
      throw Napi::TypeError::New(v.Env(), std::string(what) + ": a string holds a NUL byte");
    out.push_back(std::move(str));
  }
  return out;
}

// expect: every field optional; a present field is compared after the ops.
void ParseExpect(Napi::Object e, CredState* s, uint32_t* mask) {
  auto num = [&](const char* k, uint32_t* dst, int bit) {
    Napi::Value v = e.Get(k);
    if (v.IsUndefined() || v.IsNull()) return;
    *dst = uint32_t(v.As<Napi::Number>().Int64Value());
    *mask |= 1u << bit;
  };
  num("uid", &s->ruid, kVUid);
  num("euid", &s->euid, kVEuid);
  num("suid", &s->suid, kVSuid);
  num("fsuid", &s->fsuid, kVFsuid);
  num("gid", &s->rgid, kVGid);
  num("egid", &s->egid, kVEgid);
  num("sgid", &s->sgid, kVSgid);
  num("fsgid", &s->fsgid, kVFsgid);
  Napi::Value g = e.Get("groups");
  if (g.IsArray()) {
    Napi::Array a = g.As<Napi::Array>();
    if (a.Length() > uint32_t(kMaxGroups)) throw Napi::RangeError::New(e.Env(), "expect.groups: too many");
    s->ngroups = int32_t(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++)
      s->groups[i] = uint32_t(a.Get(i).As<Napi::Number>().Int64Value());
    *mask |= 1u << kVGroups;
  }
  Napi::Value c = e.Get("caps");
  if (c.IsObject()) {
    Napi::Object caps = c.As<Napi::Object>();
    auto cap = [&](const char* k, uint64_t* dst, int bit) {
      Napi::Value v = caps.Get(k);
      if (v.IsUndefined() || v.IsNull()) return;
      *dst = ToU64(v, k);
      *mask |= 1u << bit;
    };
    cap("inheritable", &s->inheritable, kVInheritable);
    cap("permitted", &s->permitted, kVPermitted);
    cap("effective", &s->effective, kVEffective);
    cap("bounding", &s->bounding, kVBounding);
    cap("ambient", &s->ambient, kVAmbient);
  }
  Napi::Value sb = e.Get("securebits");
  if (sb.IsNumber()) {
    s->securebits = sb.As<Napi::Number>().Int32Value();
    *mask |= 1u << kVSecurebits;
  }
  Napi::Value nnp = e.Get("noNewPrivs");
  if (nnp.IsBoolean()) {
    s->no_new_privs = nnp.As<Napi::Boolean>().Value() ? 1 : 0;
    *mask |= 1u << kVNoNewPrivs;
  }
}

// ---------------------------------------------------------------------------------------------
// The exit watch: a pidfd polled in the libuv loop. Freed once the child is reaped AND the JS
// object that controls it is collected (kill() after exit must still find it). The env may end
// first (a worker_thread ends; the main thread's loop runs dry with the watch unref'd): its
// cleanup hook then closes the poll, which a worker's loop must not hold when it is closed.

struct Watch {
  Watch(Napi::Env env, Napi::Function on_exit)
      : env(env), on_exit(Napi::Persistent(on_exit)), ctx(new Napi::AsyncContext(env, "cr-creds:restart")) {}
  Napi::Env env;
  Napi::FunctionReference on_exit;
  std::unique_ptr<Napi::AsyncContext> ctx;
  uv_poll_t poll;
  UniqueFd pidfd;
  pid_t pid = 0;
  bool die_with_parent = false;
  napi_async_cleanup_hook_handle cleanup = nullptr;
  bool exited = false;
  bool closed = false;     // uv handle closed
  bool collected = false;  // JS object finalized
  // The exit, told to JS once the pidfd is closed (report: there is someone to tell).
  bool report = false;
  bool by_signal = false;
  int status = 0;  // exit status or signal number; -1: waitid failed
};

void MaybeFree(Watch* w) {
  if (w->closed && w->collected) delete w;
}

// The exit is told to JS from here, after the pidfd is closed: when JS hears of the exit, no fd
// of the child is held any more.
void OnPollClosed(uv_handle_t* h) {
  Watch* w = static_cast<Watch*>(h->data);
  w->pidfd.reset();
  w->closed = true;
  Napi::FunctionReference cb = std::move(w->on_exit);
  if (w->report && !cb.IsEmpty()) {
    Napi::HandleScope scope(w->env);
    napi_value argv[2] = {w->env.Null(), w->env.Null()};
    // status -1: waitid failed, which cannot happen for our own child.
    argv[w->by_signal ? 1 : 0] = Napi::Number::New(w->env, w->status);
    napi_value result;
    // The C call, not MakeCallback: its failure is looked at here, never turned into a C++
    // exception (whose construction aborts when JS can run no more).
    napi_status st = napi_make_callback(w->env, *w->ctx, w->env.Global(), cb.Value(), 2, argv, &result);
    bool pending = false;
    napi_value e;
    if (st != napi_ok && napi_is_exception_pending(w->env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(w->env, &e) == napi_ok) {
      // A throwing exit listener is the program's bug: surfaced as an uncaught exception. When
      // JS can run no more (a worker being terminated) the call fails with nothing thrown and
      // nobody left to tell: dropped, as aborting would turn a clean end into a crash.
      napi_status raised = napi_fatal_exception(w->env, e);
      (void)raised;
    }
  }
  cb.Reset();
  w->ctx.reset();
  napi_async_cleanup_hook_handle hook = w->cleanup;
  w->cleanup = nullptr;
  MaybeFree(w);
  if (hook) napi_remove_async_cleanup_hook(hook);  // last: the env may end once it is removed
}

// The env ends with the program running: nobody is left to tell of its exit, and the poll must
// be closed before the loop is. What becomes of the program follows the caller's options:
// dieWithParent kills it with this thread (PR_SET_PDEATHSIG): SIGKILL now, the same end a little
// earlier. Otherwise it runs on, as child_process's children do: `cleanup` is the process's
// 'exit' (lib/restart/cleanup.ts: it has already sent killSignal where that event ran, and a
// worker's end is not the process's exit), and a detached program outlives its caller anyway.
// Either way it is reaped when it exits (ReapLater), never left a zombie.
void OnEnvEnd(napi_async_cleanup_hook_handle, void* arg) {
  Watch* w = static_cast<Watch*>(arg);
  w->report = false;
  w->on_exit.Reset();
  w->ctx.reset();
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&w->poll))) return;  // reaped; closing
  uv_poll_stop(&w->poll);
  if (!w->exited) {
    w->exited = true;  // kill() finds nothing to signal any more
    // Unchecked: should it fail, the parent-death signal still comes as this thread ends.
    if (w->die_with_parent) (void)syscall(SYS_pidfd_send_signal, w->pidfd.get(), SIGKILL, nullptr, 0);
    // Nothing else could reap it here: without a thread (none to spare) it is left a zombie.
    (void)ReapLater(std::move(w->pidfd));
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnPollClosed);
}

void OnPidfdReadable(uv_poll_t* h, int status, int events) {
  Watch* w = static_cast<Watch*>(h->data);
  siginfo_t info = {};
  int r;
  do r = waitid(idtype_t(P_PIDFD), id_t(w->pidfd.get()), &info, WEXITED | WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0 && info.si_pid == 0) return;  // spurious wake-up: not exited yet
  w->exited = true;
  w->report = true;
  w->by_signal = r == 0 && info.si_code != CLD_EXITED;
  w->status = r < 0 ? -1 : info.si_status;
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnPollClosed);
}

Napi::Value Kill(const Napi::CallbackInfo& info) {
  Watch* w = static_cast<Watch*>(info.Data());
  int sig = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : SIGTERM;
  if (w->exited) return Napi::Boolean::New(info.Env(), false);
  if (syscall(SYS_pidfd_send_signal, w->pidfd.get(), sig, nullptr, 0) != 0) {
    if (errno == ESRCH) return Napi::Boolean::New(info.Env(), false);
    throw ErrnoError(info.Env(), "pidfd_send_signal", errno, w->pid);
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value Ref(const Napi::CallbackInfo& info) {
  Watch* w = static_cast<Watch*>(info.Data());
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&w->poll))) uv_ref(reinterpret_cast<uv_handle_t*>(&w->poll));
  return info.Env().Undefined();
}

Napi::Value Unref(const Napi::CallbackInfo& info) {
  Watch* w = static_cast<Watch*>(info.Data());
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&w->poll))) uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------

Napi::Error StepError(Napi::Env env, const ErrorRecord& rec) {
  std::string phase = rec.phase > 0 && rec.phase <= int(Phase::kDieWithParent) ? kPhaseNames[rec.phase] : "unknown";
  std::string field;
  if (rec.phase == int(Phase::kOp) && rec.field > 0 && rec.field <= kMapNewgidmap)
    field = kMapNames[rec.field];
  bool map_program = rec.phase == int(Phase::kOp) && (rec.field == kMapNewuidmap || rec.field == kMapNewgidmap);
  if (map_program) {
    // Named with what became of it: "newuidmap: exit status 1".
    int ws = int(rec.got);
    if (rec.got == kNoWaitStatus) field += ": could not be run";
    else if (WIFEXITED(ws)) field += ": exit status " + std::to_string(WEXITSTATUS(ws));
    else if (WIFSIGNALED(ws)) field += ": killed by signal " + std::to_string(WTERMSIG(ws));
  }
  else if (rec.phase == int(Phase::kVerify) && rec.field >= 0 && rec.field < kVFieldCount)
    field = kVerifyNames[rec.field];
  else if (rec.phase == int(Phase::kStdio))
    field = "fd " + std::to_string(rec.field);
  std::string what = phase == "op" ? "step " + std::to_string(rec.step) : phase;
  if (!field.empty()) what += " (" + field + ")";
  Napi::Error e = ErrnoError(env, "restart child: " + what, rec.err);
  e.Set("phase", Napi::String::New(env, phase));
  e.Set("step", Napi::Number::New(env, rec.step));
  if (!field.empty()) e.Set("field", Napi::String::New(env, field));
  if (rec.phase == int(Phase::kVerify) && rec.field >= 0) {
    e.Set("expected", Napi::BigInt::New(env, rec.want));
    e.Set("actual", Napi::BigInt::New(env, rec.got));
  }
  if (map_program && rec.got != kNoWaitStatus) e.Set("actual", Napi::BigInt::New(env, rec.got));
  return e;
}

// spawn(opts) -> { pid, stdio: [fd|null per child fd], kill(sig), ref(), unref() }
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "spawn(opts)");
  Napi::Object opts = info[0].As<Napi::Object>();
  Napi::Value on_exit = opts.Get("onExit");
  if (!on_exit.IsFunction()) throw Napi::TypeError::New(env, "spawn: onExit must be a function");

  Plan plan;
  plan.files = ToStrings(opts.Get("files"), "files");
  if (plan.files.empty()) throw Napi::TypeError::New(env, "spawn: no file to execute");
  plan.argv_s = ToStrings(opts.Get("argv"), "argv");
  plan.envp_s = ToStrings(opts.Get("envp"), "envp");
  for (auto& s : plan.argv_s) plan.argv.push_back(&s[0]);
  plan.argv.push_back(nullptr);
  for (auto& s : plan.envp_s) plan.envp.push_back(&s[0]);
  plan.envp.push_back(nullptr);
  if (opts.Get("cwd").IsString()) plan.cwd = opts.Get("cwd").As<Napi::String>().Utf8Value();
  plan.die_with_parent = opts.Get("dieWithParent").ToBoolean();
  plan.parent_pid = getpid();

  Napi::Value ops_v = opts.Get("ops");
  if (!ops_v.IsArray()) throw Napi::TypeError::New(env, "spawn: ops must be an array");
  Napi::Array ops = ops_v.As<Napi::Array>();
  for (uint32_t i = 0; i < ops.Length(); i++) plan.ops.push_back(ParseOp(&plan, ops.Get(i).As<Napi::Object>()));

  // The CredStates are ~256 KiB each: allocated here, before fork, never on the child's stack.
  std::unique_ptr<CredState> expect, readback;
  if (opts.Get("expect").IsObject()) {
    // Default-initialized, not zeroed: only the fields the mask names are read, and untouched
    // pages of the 256 KiB groups array cost nothing (no faults before fork or in the child).
    expect.reset(new CredState);
    readback.reset(new CredState);
    expect->ngroups = 0;
    ParseExpect(opts.Get("expect").As<Napi::Object>(), expect.get(), &plan.verify_mask);
    plan.expect = expect.get();
    plan.readback = readback.get();
  }

  UniqueFd image_fd;
  Failure f;
  Napi::Value sr = opts.Get("sysRestart");
  if (sr.IsObject()) {
    Napi::Object o = sr.As<Napi::Object>();
    plan.restart.stand_in = o.Get("standIn").ToBoolean();
    if (o.Get("standInErrno").IsNumber()) plan.restart.stand_in_errno = o.Get("standInErrno").As<Napi::Number>().Int32Value();
    if (o.Get("nr").IsNumber()) plan.restart.nr = o.Get("nr").As<Napi::Number>().Int64Value();
    if (o.Get("flags").IsNumber()) plan.restart.flags = o.Get("flags").As<Napi::Number>().Int64Value();
    plan.restart.kernel_has_it = KernelHasSysRestart();
    if (!plan.restart.stand_in && (plan.restart.nr <= 0 || !plan.restart.kernel_has_it))
      throw Napi::RangeError::New(env, "spawn: refusing sys_restart syscall number " + std::to_string(plan.restart.nr) +
                                           (plan.restart.kernel_has_it ? "" : ": /proc/kallsyms shows no sys_restart"));
    Napi::Value img = o.Get("image");
    if (!img.IsTypedArray()) throw Napi::TypeError::New(env, "sysRestart.image: expected a Uint8Array");
    Napi::Uint8Array bytes = img.As<Napi::Uint8Array>();
    if (!ImageMemfd(bytes.Data(), bytes.ByteLength(), &image_fd, &f)) throw FailureToJs(env, f);
    plan.restart.image_fd = image_fd.get();
  }

  plan.detached = opts.Get("detached").ToBoolean();

  // stdio: child fds 0-2 default to inherit, later ones to closed.
  Napi::Value stdio_v = opts.Get("stdio");
  Napi::Array stdio = stdio_v.IsArray() ? stdio_v.As<Napi::Array>() : Napi::Array::New(env);
  const uint32_t nfd = stdio.Length() > 3 ? stdio.Length() : 3;
  if (nfd > 1024) throw Napi::RangeError::New(env, "stdio: more than 1024 fds");
  std::vector<StdioSpec> spec(nfd);
  for (uint32_t i = 0; i < nfd; i++) {
    Napi::Value s = i < stdio.Length() ? stdio.Get(i) : env.Undefined();
    std::string kind = s.IsString() ? s.As<Napi::String>().Utf8Value() : i < 3 ? "inherit" : "ignore";
    if (s.IsNumber()) {
      int fd = s.As<Napi::Number>().Int32Value();
      if (fd < 0) throw Napi::RangeError::New(env, "stdio: a negative fd");
      spec[i] = {StdioKind::kFd, fd};
    } else if (kind == "pipe" || kind == "ignore" || kind == "inherit") {
      spec[i] = {kind == "pipe" ? StdioKind::kPipe : kind == "ignore" ? StdioKind::kIgnore : StdioKind::kInherit, -1};
    } else {
      throw Napi::TypeError::New(env, "stdio: 'inherit' | 'pipe' | 'ignore' | fd");
    }
  }
  std::vector<UniqueFd> child_end, parent_end;
  if (!OpenStdio(spec, &plan, &child_end, &parent_end, &f)) throw FailureToJs(env, f);

  pid_t pid = 0;
  UniqueFd pidfd_owner;
  bool failed = false;
  ErrorRecord rec;
  if (!StartRestartChild(plan, &child_end, &pid, &pidfd_owner, &failed, &rec, &f)) throw FailureToJs(env, f);
  image_fd.reset();
  if (failed) throw StepError(env, rec);

  // The exec happened: watch the exit. A child we cannot watch is not left running.
  auto unwatched = [&](const std::string& why) {
    syscall(SYS_pidfd_send_signal, pidfd_owner.get(), SIGKILL, nullptr, 0);
    ReapBlocking(pidfd_owner.get());
    return Napi::Error::New(env, why);
  };
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw unwatched("napi_get_uv_event_loop failed");
  int ur = 0;
  auto w = std::make_unique<Watch>(env, on_exit.As<Napi::Function>());
  w->pid = pid;
  w->die_with_parent = plan.die_with_parent;
  w->poll.data = w.get();
  ur = uv_poll_init(loop, &w->poll, pidfd_owner.get());
  if (ur != 0) throw unwatched(std::string("uv_poll_init on pidfd: ") + uv_strerror(ur));
  w->pidfd = std::move(pidfd_owner);
  ur = uv_poll_start(&w->poll, UV_READABLE, OnPidfdReadable);
  std::string why = ur != 0 ? std::string("uv_poll_start on pidfd: ") + uv_strerror(ur) : "";
  if (ur == 0 && napi_add_async_cleanup_hook(env, OnEnvEnd, w.get(), &w->cleanup) != napi_ok) {
    w->cleanup = nullptr;
    why = "napi_add_async_cleanup_hook failed";
  }
  if (!why.empty()) {
    syscall(SYS_pidfd_send_signal, w->pidfd.get(), SIGKILL, nullptr, 0);
    ReapBlocking(w->pidfd.get());
    w->exited = true;
    w->collected = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnPollClosed);  // frees it
    w.release();
    throw Napi::Error::New(env, why);
  }

  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, double(pid)));
  Napi::Array fds = Napi::Array::New(env, nfd);
  for (uint32_t i = 0; i < nfd; i++)
    fds.Set(i, parent_end[i] ? Napi::Value(Napi::Number::New(env, parent_end[i].get())) : env.Null());
  out.Set("stdio", fds);
  // JS's once the object holds them all: a throw before leaves every one closed.
  for (auto& fd : parent_end) fd.release();
  Watch* watch = w.release();  // freed once reaped and collected (MaybeFree)
  out.Set("kill", Napi::Function::New(env, Kill, "kill", watch));
  out.Set("ref", Napi::Function::New(env, Ref, "ref", watch));
  out.Set("unref", Napi::Function::New(env, Unref, "unref", watch));
  out.AddFinalizer(
      [](Napi::Env, Watch* w) {
        w->collected = true;
        MaybeFree(w);
      },
      watch);
  return out;
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
