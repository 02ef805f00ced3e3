#include "agreement.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd_io.h"
#include "unique_fd.h"

namespace crc {
namespace {

// What the child sends back over its pipe: per op an int32 errno; an int32 errno of reading its
// creds, then (when 0) the CredState up to its groups and ngroups of those; then, when an exec
// was asked, either 'E' + int32 errno (execve failed) or the reporter's text.
constexpr size_t kCredHead = offsetof(CredState, groups);

// The reporter's command line, laid out before fork.
struct ExecJob {
  std::string path;
  char* argv[2] = {nullptr, nullptr};
  char* envp[1] = {nullptr};
};

[[noreturn]] void ExecFailed(int out, int32_t err) {
  char rec[1 + sizeof err] = {'E'};
  memcpy(rec + 1, &err, sizeof err);
  WriteAll(out, rec, sizeof rec);
  _exit(0);
}

[[noreturn]] void RunAgreementChild(const Plan& plan, CredState* st, const ExecJob* exec, int out) {
  // As the restart child does first: the ops and the reporter run with the signals a program
  // gets. What the child cannot write, the parent sees missing: a short report.
  if (ResetSignals() < 0) _exit(127);
  for (const OpRec& op : plan.ops) {
    int field = 0;
    int32_t err = -ApplyOp(plan, op, &field);
    if (WriteAll(out, &err, sizeof err) < 0) _exit(127);
  }
  int32_t read_err = -ReadCredState(st);
  if (WriteAll(out, &read_err, sizeof read_err) < 0) _exit(127);
  if (read_err != 0) _exit(0);
  if (WriteAll(out, st, kCredHead) < 0) _exit(127);
  if (WriteAll(out, st->groups, size_t(st->ngroups) * sizeof(uint32_t)) < 0) _exit(127);
  if (exec) {
    // The reporter must get fd 1 without close-on-exec; dup2 clears it on the copy.
    if (dup2(out, 1) < 0) ExecFailed(out, errno);
    execve(exec->path.c_str(), exec->argv, const_cast<char**>(exec->envp));
    ExecFailed(out, errno);
  }
  _exit(0);
}

}  // namespace

bool RunAgreementOps(const Plan& plan, const std::string* exec_path, AgreementRun* run, Failure* f) {
  std::unique_ptr<ExecJob> exec;
  if (exec_path) {
    exec.reset(new ExecJob);
    exec->path = *exec_path;
    exec->argv[0] = &exec->path[0];
  }
  std::unique_ptr<CredState> st(new CredState);  // before fork: never on the child's stack
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    f->Errno("pipe2", errno, 0);
    return false;
  }
  UniqueFd rd(p[0]), wr(p[1]);
  sigset_t all, old;
  sigfillset(&all);
  int err = pthread_sigmask(SIG_SETMASK, &all, &old);
  if (err != 0) {
    f->Errno("pthread_sigmask", err, 0);
    return false;
  }
  long pid = syscall(SYS_clone, SIGCHLD, 0, nullptr, nullptr, 0);
  if (pid == 0) RunAgreementChild(plan, st.get(), exec.get(), wr.get());
  int fork_err = errno;
  err = pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    f->Errno("clone", fork_err, 0);
    return false;
  }
  wr.reset();
  std::string buf;
  char chunk[65536];
  int pipe_err = 0;
  for (;;) {
    ssize_t n = read(rd.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      pipe_err = errno;
      break;
    }
    if (n == 0) break;
    buf.append(chunk, size_t(n));
  }
  rd.reset();
  int status = 0;
  while (waitpid(pid_t(pid), &status, __WALL) < 0 && errno == EINTR) {
  }
  if (err != 0) {
    f->Errno("pthread_sigmask", err, int(pid));
    return false;
  }
  if (pipe_err != 0) {
    f->Errno("read agreement pipe", pipe_err, int(pid));
    return false;
  }

  size_t nops = plan.ops.size();
  size_t need = nops * sizeof(int32_t) + sizeof(int32_t);
  if (buf.size() < need) {
    f->Errno("agreement child: short report", EIO, int(pid));
    return false;
  }
  run->errors.resize(nops);
  memcpy(run->errors.data(), buf.data(), nops * sizeof(int32_t));
  int32_t read_err;
  memcpy(&read_err, buf.data() + nops * sizeof(int32_t), sizeof read_err);
  if (read_err != 0) {
    f->Errno("agreement child: read creds", read_err, int(pid));
    return false;
  }
  CredState* c = st.get();
  if (buf.size() < need + kCredHead) {
    f->Errno("agreement child: short report", EIO, int(pid));
    return false;
  }
  memcpy(c, buf.data() + need, kCredHead);
  need += kCredHead;
  size_t gbytes = size_t(c->ngroups) * sizeof(uint32_t);
  if (c->ngroups < 0 || c->ngroups > kMaxGroups || buf.size() < need + gbytes) {
    f->Errno("agreement child: short groups", EIO, int(pid));
    return false;
  }
  if (gbytes) memcpy(c->groups, buf.data() + need, gbytes);
  run->creds = std::move(st);
  if (exec) {
    std::string rest = buf.substr(need + gbytes);
    if (rest.size() == 1 + sizeof(int32_t) && rest[0] == 'E') {
      run->exec_failed = true;
      memcpy(&run->exec_errno, rest.data() + 1, sizeof(int32_t));
    } else {
      run->exec_output = std::move(rest);
    }
  }
  return true;
}

}  // namespace crc
