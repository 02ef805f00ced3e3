// The kernel side of the agreement harness (lib/agreement): a freshly forked child performs a
// list of CredOps with the restart child's own op code (ApplyOp, spawn_child.cc), going on past
// refusals, reports each op's errno and its creds at the end (ReadCredState), and may finally
// execve a reporter program that prints the creds it runs with. Synchronous: the child does a
// few dozen syscalls and the caller wants the answer at once.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "cred_state.h"
#include "errors.h"
#include "registry.h"
#include "fd_io.h"
#include "spawn_plan.h"

namespace crc {
namespace {

// What the child sends back over its pipe: per op an int32 errno, then CredHead and its groups,
// then, when an exec was asked, either 'E' + int32 errno (execve failed) or the reporter's text.
struct CredHead {
  uint32_t ids[8];
  uint64_t caps[5];
  int32_t securebits, no_new_privs, ngroups, read_err;
};

struct ExecJob {
  std::string path;
  std::vector<std::string> argv_s;
  std::vector<char*> argv;
  char* envp[1] = {nullptr};
};

[[noreturn]] void RunAgreementChild(const Plan& plan, CredState* st, const ExecJob* exec, int out) {
  // As the restart child does first: the ops and the reporter run with the signals a program gets.
  ResetSignals();  // fails only if sigprocmask does, which it cannot with a valid set
  for (const OpRec& op : plan.ops) {
    int field = 0;
    int32_t err = ApplyOp(plan, op, &field);
    WriteAll(out, &err, sizeof err);
  }
  CredHead h = {};
  int r = ReadCredState(st);
  h.read_err = r < 0 ? -r : 0;
  if (r == 0) {
    uint32_t ids[8] = {st->ruid, st->euid, st->suid, st->fsuid, st->rgid, st->egid, st->sgid, st->fsgid};
    for (int i = 0; i < 8; i++) h.ids[i] = ids[i];
    uint64_t caps[5] = {st->inheritable, st->permitted, st->effective, st->bounding, st->ambient};
    for (int i = 0; i < 5; i++) h.caps[i] = caps[i];
    h.securebits = st->securebits;
    h.no_new_privs = st->no_new_privs;
    h.ngroups = st->ngroups;
  }
  WriteAll(out, &h, sizeof h);
  if (r == 0) WriteAll(out, st->groups, size_t(h.ngroups) * sizeof(uint32_t));
  if (exec) {
    if (dup2(out, 1) < 0) {
      int32_t e = errno;
      WriteAll(out, "E", 1);
      WriteAll(out, &e, sizeof e);
      _exit(0);
    }
    execve(exec->path.c_str(), exec->argv.data(), const_cast<char**>(exec->envp));
    int32_t e = errno;
    WriteAll(out, "E", 1);
    WriteAll(out, &e, sizeof e);
  }
  _exit(0);
}

Napi::Value HeadToJs(Napi::Env env, const CredHead& h, const uint32_t* groups) {
  Napi::Object o = Napi::Object::New(env);
  const char* names[8] = {"uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid"};
  for (int i = 0; i < 8; i++) o.Set(names[i], h.ids[i]);
  Napi::Array g = Napi::Array::New(env, size_t(h.ngroups));
  for (int i = 0; i < h.ngroups; i++) g.Set(uint32_t(i), groups[i]);
  o.Set("groups", g);
  Napi::Object caps = Napi::Object::New(env);
  const char* cn[5] = {"inheritable", "permitted", "effective", "bounding", "ambient"};
  for (int i = 0; i < 5; i++) caps.Set(cn[i], Napi::BigInt::New(env, h.caps[i]));
  o.Set("caps", caps);
  o.Set("securebits", h.securebits);
  o.Set("noNewPrivs", h.no_new_privs != 0);
  return o;
}

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
  std::unique_ptr<ExecJob> exec;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object e = info[1].As<Napi::Object>();
    exec.reset(new ExecJob);
    exec->path = e.Get("path").ToString().Utf8Value();
    exec->argv_s.push_back(exec->path);
    for (std::string& s : exec->argv_s) exec->argv.push_back(&s[0]);
    exec->argv.push_back(nullptr);
  }
  std::unique_ptr<CredState> st(new CredState);  // before fork: never on the child's stack

  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw ErrnoError(env, "pipe2", errno);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  long pid = syscall(SYS_clone, SIGCHLD, 0, nullptr, nullptr, 0);
  if (pid == 0) {
    close(p[0]);
    // The reporter must get fd 1 without close-on-exec; dup2 clears it on the copy.
    RunAgreementChild(plan, st.get(), exec.get(), p[1]);
  }
  int fork_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(p[1]);
  if (pid < 0) {
    close(p[0]);
    throw ErrnoError(env, "clone", fork_err);
  }
  std::string buf;
  char chunk[65536];
  int read_err = 0;
  for (;;) {
    ssize_t n = read(p[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      read_err = errno;
      break;
    }
    if (n == 0) break;
    buf.append(chunk, size_t(n));
  }
  close(p[0]);
  int status = 0;
  while (waitpid(pid_t(pid), &status, __WALL) < 0 && errno == EINTR) {
  }
  if (read_err != 0) throw ErrnoError(env, "read agreement pipe", read_err, int(pid));

  size_t nops = plan.ops.size();
  size_t need = nops * sizeof(int32_t) + sizeof(CredHead);
  if (buf.size() < need) throw ErrnoError(env, "agreement child: short report", EIO, int(pid));
  Napi::Object out = Napi::Object::New(env);
  Napi::Array errs = Napi::Array::New(env, nops);
  for (size_t i = 0; i < nops; i++) {
    int32_t e;
    memcpy(&e, buf.data() + i * sizeof e, sizeof e);
    errs.Set(uint32_t(i), e == 0 ? env.Null() : Napi::Value(Napi::String::New(env, ErrnoName(e))));
  }
  out.Set("errors", errs);
  CredHead h;
  memcpy(&h, buf.data() + nops * sizeof(int32_t), sizeof h);
  if (h.read_err != 0) throw ErrnoError(env, "agreement child: read creds", h.read_err, int(pid));
  size_t gbytes = size_t(h.ngroups) * sizeof(uint32_t);
  if (h.ngroups < 0 || buf.size() < need + gbytes) throw ErrnoError(env, "agreement child: short groups", EIO, int(pid));
  std::vector<uint32_t> groups(size_t(h.ngroups));
  if (gbytes) memcpy(groups.data(), buf.data() + need, gbytes);
  out.Set("creds", HeadToJs(env, h, groups.data()));
  if (exec) {
    std::string rest = buf.substr(need + gbytes);
    Napi::Object x = Napi::Object::New(env);
    if (rest.size() == 1 + sizeof(int32_t) && rest[0] == 'E') {
      int32_t e;
      memcpy(&e, rest.data() + 1, sizeof e);
      x.Set("error", ErrnoName(e));
    } else {
      x.Set("output", rest);
    }
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
