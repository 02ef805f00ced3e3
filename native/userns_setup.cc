// One level of a user-namespace chain, from inside a restart child: unshare(CLONE_NEWUSER) with
// the new namespace's setgroups and maps written by a helper that stays in the parent level (so
// the kernel judges the writes against the creds the child had before the unshare, as a real
// restarter's map writer would be judged). A map the writer may not write itself (an
// unprivileged restarter's ranged map) is written by newuidmap / newgidmap, which the writer runs
// (fork, execve, wait4) on command lines prepared before the restart child was forked. Runs
// after fork: plain syscalls only, no allocation.
#include "fd_io.h"
#include "spawn_plan.h"
#include "unique_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string.h>

namespace crc {
namespace {

struct HelperResult {
  int32_t err;
  int32_t file;     // MapFile
  uint64_t status;  // kMapNewuidmap / kMapNewgidmap: the program's wait status
};

// The environment of newuidmap / newgidmap: set-id programs, given nothing of the caller's.
char kEnvPath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
char kEnvLang[] = "LC_ALL=C";
char* const kHelperEnv[] = {kEnvPath, kEnvLang, nullptr};

// A /proc map file takes its whole content in one write().
int WriteProcFile(int dirfd, const char* name, const char* text, size_t len) {
  int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n;
  do n = write(fd, text, len);
  while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : (size_t(n) != len ? EIO : 0);
  close(fd);
  return -err;
}

// Decimal digits of `v` into `out` (room for HelperCmd::kPidSlot bytes), NUL-terminated.
void FormatPid(char* out, pid_t v) {
  char tmp[HelperCmd::kPidSlot];
  size_t n = 0;
  unsigned long u = (unsigned long)v;
  do tmp[n++] = char('0' + u % 10), u /= 10;
  while (u != 0 && n < sizeof tmp - 1);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
}

// Runs newuidmap / newgidmap on `target` and waits for it. 0 when it exited with status 0; else
// -errno of its execve (*status kNoWaitStatus), or -EPERM with *status its wait status.
int RunMapProgram(const HelperCmd& cmd, pid_t target, uint64_t* status) {
  *status = kNoWaitStatus;
  FormatPid(cmd.argv[1], target);  // the pid slot, in this process's own copy of the plan
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) != 0) return -errno;
  UniqueFd err_rd(ep[0]), err_wr(ep[1]);
  long pid = syscall(SYS_clone, SIGCHLD, 0, nullptr, nullptr, 0);
  if (pid < 0) return -errno;
  if (pid == 0) {
    execve(cmd.argv[0], cmd.argv.data(), kHelperEnv);
    int e = errno;
    WriteAll(err_wr.get(), &e, sizeof e);
    _exit(127);
  }
  err_wr.reset();
  int exec_err = 0;
  int n = ReadFull(err_rd.get(), &exec_err, sizeof exec_err);  // EOF: the exec happened
  int ws = 0;
  long w;
  do w = syscall(SYS_wait4, pid, &ws, 0, nullptr);
  while (w < 0 && errno == EINTR);
  if (n == int(sizeof exec_err)) return exec_err != 0 ? -exec_err : -EIO;
  if (n < 0) return n;
  if (w < 0) return -errno;
  *status = uint32_t(ws);
  return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -EPERM;
}

// The map writer. Order: setgroups, uid_map, gid_map. With newgidmap (shadow 4.13) the image's
// setgroups is written first all the same: newgidmap leaves setgroups alone when a line of the map
// comes from /etc/subgid (a "deny" written before stays), and otherwise writes "deny" itself
// before the map unless it already reads "deny" (the authorization refuses an image that wants
// "allow" there). Writing "allow" over the default "allow" changes nothing.
[[noreturn]] void RunHelper(const UnshareJob& job, int dirfd, pid_t target, int go_rd, int done_wr) {
  char c = 0;
  HelperResult res = {0, kMapNone, 0};
  if (ReadFull(go_rd, &c, 1) != 1 || c != 'u') _exit(0);  // the unshare failed: nothing to do
  int r = 0;
  if (job.setgroups != 0) {
    const char* v = job.setgroups == 1 ? "allow" : "deny";
    r = WriteProcFile(dirfd, "setgroups", v, strlen(v));
    if (r < 0) res = {-r, kMapSetgroups, 0};
  }
  if (r == 0 && job.uid_helper != nullptr) {
    uint64_t st = 0;
    r = RunMapProgram(*job.uid_helper, target, &st);
    if (r < 0) res = {-r, kMapNewuidmap, st};
  } else if (r == 0 && job.uid_len > 0) {
    r = WriteProcFile(dirfd, "uid_map", job.uid_map, job.uid_len);
    if (r < 0) res = {-r, kMapUid, 0};
  }
  if (r == 0 && job.gid_helper != nullptr) {
    uint64_t st = 0;
    r = RunMapProgram(*job.gid_helper, target, &st);
    if (r < 0) res = {-r, kMapNewgidmap, st};
  } else if (r == 0 && job.gid_len > 0) {
    r = WriteProcFile(dirfd, "gid_map", job.gid_map, job.gid_len);
    if (r < 0) res = {-r, kMapGid, 0};
  }
  WriteAll(done_wr, &res, sizeof res);  // a result that does not arrive: the child says EIO
  _exit(0);
}

void ReapHelper(pid_t pid) {
  while (syscall(SYS_wait4, pid, nullptr, __WALL, nullptr) < 0 && errno == EINTR) {
  }
}

}  // namespace

int UnshareUserLevel(const UnshareJob& job, int* file, uint64_t* status) {
  *file = kMapHelper;
  *status = 0;
  pid_t self = pid_t(syscall(SYS_getpid));  // the map programs' target
  // A child whose ids changed is no longer dumpable, which makes its /proc files root's and
  // shuts out an unprivileged helper; execve recomputes this flag anyway.
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) return -errno;
  // Opened before the helper forks, so in the helper it still names this (the child's) /proc dir.
  UniqueFd dirfd(open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd) return -errno;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -errno;
  UniqueFd go_rd(p[0]), go_wr(p[1]);
  if (pipe2(p, O_CLOEXEC) != 0) return -errno;
  UniqueFd done_rd(p[0]), done_wr(p[1]);
  // A raw clone is a fork without atfork handlers: nothing of libc runs in between.
  long pid = syscall(SYS_clone, SIGCHLD, 0, nullptr, nullptr, 0);
  if (pid < 0) return -errno;
  if (pid == 0) {
    // The helper keeps only its own ends: with a copy of go_wr it would wait forever for a word
    // that never comes, should ours fail.
    go_wr.reset();
    done_rd.reset();
    RunHelper(job, dirfd.get(), self, go_rd.get(), done_wr.get());
  }
  go_rd.reset();
  done_wr.reset();
  dirfd.reset();

  int err = 0;
  if (syscall(SYS_unshare, CLONE_NEWUSER) != 0) {
    err = -errno;
    *file = kMapUnshare;
  }
  char c = err == 0 ? 'u' : 'x';
  int w = WriteAll(go_wr.get(), &c, 1);
  go_wr.reset();
  if (err == 0 && w < 0) err = w;  // the helper, told nothing, writes nothing: kMapHelper
  if (err == 0) {
    HelperResult res = {EIO, kMapHelper, 0};  // a helper that died without a word
    int n = ReadFull(done_rd.get(), &res, sizeof res);
    if (n != int(sizeof res)) res = {n < 0 ? -n : EIO, kMapHelper, 0};
    err = -res.err;
    *file = res.file;
    *status = res.status;
  }
  done_rd.reset();
  ReapHelper(pid_t(pid));
  return err;
}

}  // namespace crc
