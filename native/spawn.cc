// spawn(): start a program in a child that first takes on given credentials, as libuv's
// uv_spawn does it: everything the child needs is prepared before fork (spawn_plan.h), the child
// runs only raw syscalls (spawn_child.cc), and a close-on-exec pipe brings back either EOF (the
// exec happened) or one ErrorRecord. The child's exit is watched through a pidfd in the libuv
// loop and reaped with waitid(P_PIDFD): no SIGCHLD handler, nothing of Node's own child
// handling touched.
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "cred_state.h"
#include "errors.h"
#include "fd_io.h"
#include "linux_cr.h"
#include "registry.h"
#include "spawn_plan.h"
#include "unique_fd.h"

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

int64_t ToI64(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("op.") + key + ": expected a number");
  return v.As<Napi::Number>().Int64Value();
}

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

namespace {

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
// object that controls it is collected (kill() after exit must still find it).

struct Watch {
  Watch(Napi::Env env, Napi::Function on_exit)
      : env(env), on_exit(Napi::Persistent(on_exit)), ctx(env, "cr-creds:restart") {}
  Napi::Env env;
  Napi::FunctionReference on_exit;
  Napi::AsyncContext ctx;
  uv_poll_t poll;
  int pidfd = -1;
  pid_t pid = 0;
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
  close(w->pidfd);
  w->pidfd = -1;
  w->closed = true;
  Napi::FunctionReference cb = std::move(w->on_exit);
  if (w->report && !cb.IsEmpty()) {
    Napi::HandleScope scope(w->env);
    Napi::Value code = w->env.Null(), sig = w->env.Null();
    if (w->by_signal)
      sig = Napi::Number::New(w->env, w->status);
    else
      code = Napi::Number::New(w->env, w->status);  // -1: waitid failed, which cannot happen for our own child
    try {
      cb.MakeCallback(w->env.Global(), {code, sig}, w->ctx);
    } catch (const Napi::Error& e) {
      // A throwing exit listener is the program's bug: surface it as an uncaught exception.
      napi_fatal_exception(w->env, e.Value());
    }
  }
  cb.Reset();
  MaybeFree(w);
}

void OnPidfdReadable(uv_poll_t* h, int status, int events) {
  Watch* w = static_cast<Watch*>(h->data);
  siginfo_t info = {};
  int r;
  do r = waitid(idtype_t(P_PIDFD), id_t(w->pidfd), &info, WEXITED | WNOHANG);
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
  if (syscall(SYS_pidfd_send_signal, w->pidfd, sig, nullptr, 0) != 0) {
    if (errno == ESRCH) return Napi::Boolean::New(info.Env(), false);
    throw ErrnoError(info.Env(), "pidfd_send_signal", errno, w->pid);
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value Ref(const Napi::CallbackInfo& info) {
  Watch* w = static_cast<Watch*>(info.Data());
  if (!w->closed) uv_ref(reinterpret_cast<uv_handle_t*>(&w->poll));
  return info.Env().Undefined();
}

Napi::Value Unref(const Napi::CallbackInfo& info) {
  Watch* w = static_cast<Watch*>(info.Data());
  if (!w->closed) uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------

Napi::Error StepError(Napi::Env env, const ErrorRecord& rec, const Plan& plan) {
  std::string phase = rec.phase > 0 && rec.phase <= 6 ? kPhaseNames[rec.phase] : "unknown";
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

void ReapBlocking(int pidfd) {
  siginfo_t info;
  while (waitid(idtype_t(P_PIDFD), id_t(pidfd), &info, WEXITED) < 0 && errno == EINTR) {
  }
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
    image_fd.reset(int(syscall(SYS_memfd_create, "cr-creds-image", MFD_CLOEXEC)));
    if (image_fd.get() < 0) throw ErrnoError(env, "memfd_create", errno);
    size_t off = 0;
    while (off < bytes.ByteLength()) {
      ssize_t n = write(image_fd.get(), bytes.Data() + off, bytes.ByteLength() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw ErrnoError(env, "write image memfd", errno);
      off += size_t(n);
    }
    plan.restart.image_fd = image_fd.get();
  }

  plan.detached = opts.Get("detached").ToBoolean();

  // stdio: child ends (closed in the parent after fork) and parent ends (handed to JS). Child
  // fds 0-2 default to inherit; a 'pipe' there is a pipe, a 'pipe' above 2 a socketpair (both
  // directions, as child_process gives it).
  Napi::Value stdio_v = opts.Get("stdio");
  Napi::Array stdio = stdio_v.IsArray() ? stdio_v.As<Napi::Array>() : Napi::Array::New(env);
  const uint32_t nfd = stdio.Length() > 3 ? stdio.Length() : 3;
  if (nfd > 1024) throw Napi::RangeError::New(env, "stdio: more than 1024 fds");
  std::vector<UniqueFd> child_end(nfd), parent_end(nfd);
  plan.stdio.assign(nfd, -1);
  plan.stdio_work.assign(nfd, -1);
  for (uint32_t i = 0; i < nfd; i++) {
    Napi::Value s = i < stdio.Length() ? stdio.Get(i) : env.Undefined();
    std::string kind = s.IsString() ? s.As<Napi::String>().Utf8Value() : i < 3 ? "inherit" : "ignore";
    if (s.IsNumber()) {
      int fd = s.As<Napi::Number>().Int32Value();
      if (fd < 0) throw Napi::RangeError::New(env, "stdio: a negative fd");
      plan.stdio[i] = fd;
    } else if (kind == "pipe" && i >= 3) {
      int p[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) throw ErrnoError(env, "socketpair", errno);
      child_end[i].reset(p[0]);
      parent_end[i].reset(p[1]);
      plan.stdio[i] = child_end[i].get();
    } else if (kind == "pipe") {
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) throw ErrnoError(env, "pipe2", errno);
      // fd 0: the child reads; fds 1, 2: the child writes.
      child_end[i].reset(i == 0 ? p[0] : p[1]);
      parent_end[i].reset(i == 0 ? p[1] : p[0]);
      plan.stdio[i] = child_end[i].get();
    } else if (kind == "ignore" && i < 3) {
      child_end[i].reset(open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC));
      if (child_end[i].get() < 0) throw ErrnoError(env, "open /dev/null", errno);
      plan.stdio[i] = child_end[i].get();
    } else if (kind == "ignore") {
      plan.stdio[i] = -1;  // left closed: every fd of ours is close-on-exec
    } else if (kind == "inherit") {
      plan.stdio[i] = int(i);
    } else {
      throw Napi::TypeError::New(env, "stdio: 'inherit' | 'pipe' | 'ignore' | fd");
    }
  }

  int ep[2];
  if (pipe2(ep, O_CLOEXEC) != 0) throw ErrnoError(env, "pipe2", errno);
  UniqueFd err_rd(ep[0]), err_wr(ep[1]);

  // All signals blocked across fork, so no Node handler runs in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, nullptr, 0);
  if (pid == 0) {
    err_rd.release();  // close-on-exec: nothing to do in the child
    RunChild(plan, err_wr.get());
  }
  int fork_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) throw ErrnoError(env, "clone", fork_err);
  UniqueFd pidfd_owner(pidfd);

  err_wr.reset();
  for (auto& c : child_end) c.reset();
  image_fd.reset();

  ErrorRecord rec = {};
  int n = ReadFull(err_rd.get(), &rec, sizeof rec);
  err_rd.reset();
  if (n != 0) {
    ReapBlocking(pidfd);
    if (n < 0) throw ErrnoError(env, "read restart error pipe", -n, int(pid));
    if (n != int(sizeof rec)) throw ErrnoError(env, "restart child: short error record", EIO, int(pid));
    throw StepError(env, rec, plan);
  }

  // The exec happened: watch the exit.
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
  auto* w = new Watch(env, on_exit.As<Napi::Function>());
  w->pid = pid_t(pid);
  w->pidfd = pidfd_owner.release();
  w->poll.data = w;
  int ur = uv_poll_init(loop, &w->poll, w->pidfd);
  if (ur == 0) ur = uv_poll_start(&w->poll, UV_READABLE, OnPidfdReadable);
  if (ur != 0) {
    // Cannot watch: do not leave a running, unwatched child behind.
    syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, nullptr, 0);
    ReapBlocking(w->pidfd);
    w->exited = true;
    w->collected = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnPollClosed);
    throw Napi::Error::New(env, std::string("uv_poll on pidfd: ") + uv_strerror(ur));
  }

  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, double(pid)));
  Napi::Array fds = Napi::Array::New(env, nfd);
  for (uint32_t i = 0; i < nfd; i++)
    fds.Set(i, parent_end[i].get() >= 0 ? Napi::Value(Napi::Number::New(env, parent_end[i].release()))
                                        : env.Null());
  out.Set("stdio", fds);
  out.Set("kill", Napi::Function::New(env, Kill, "kill", w));
  out.Set("ref", Napi::Function::New(env, Ref, "ref", w));
  out.Set("unref", Napi::Function::New(env, Unref, "unref", w));
  out.AddFinalizer(
      [](Napi::Env, Watch* w) {
        w->collected = true;
        MaybeFree(w);
      },
      w);
  return out;
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
