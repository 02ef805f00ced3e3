#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "one_shot_child.h"

namespace crc {
namespace {

// The number in the first line of a /proc/sys file, or `fallback`.
long ReadLong(const char* path, long fallback) {
  std::ifstream f(path);
  long v;
  return f >> v ? v : fallback;
}

// /proc/sys/kernel/cap_last_cap where present; else the highest cap PR_CAPBSET_READ accepts.
int CapLastCap() {
  long v = ReadLong("/proc/sys/kernel/cap_last_cap", -1);
  if (v >= 0) return static_cast<int>(v);
  int cap = 0;
  while (cap < 64 && prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0) cap++;
  return cap;
}

int ChildUnshareUser(void*) { return unshare(CLONE_NEWUSER) == 0 ? 0 : (errno & 0xff); }

// Whether a user namespace can be created here, in a throwaway child. 0 or -errno.
int TryCreateUserNamespace() {
  int r = RunOneShotChild(ChildUnshareUser, nullptr, nullptr, 0);
  if (r == 255) return -EIO;  // the child was killed before it could answer
  return r <= 0 ? r : -r;
}

// Which securebits this kernel knows: each bit is added to the current word in a throwaway
// child (a lock bit is irreversible, so one child per bit). The kernel answers EPERM both for an
// unknown bit and for a missing CAP_SETPCAP, so the child first re-sets the current word, which
// only CAP_SETPCAP decides. Returns the mask of known bits, or -errno when it cannot tell.
struct SecbitJob {
  int bit;  // -1: only the privilege check
};

int ChildSetSecurebit(void* arg) {
  int bit = static_cast<SecbitJob*>(arg)->bit;
  long cur = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  if (cur < 0) return errno & 0xff;
  unsigned long next = static_cast<unsigned long>(cur) | (bit < 0 ? 0UL : 1UL << bit);
  return prctl(PR_SET_SECUREBITS, next, 0, 0, 0) == 0 ? 0 : (errno & 0xff);
}

long KnownSecurebits() {
  SecbitJob job{-1};
  int r = RunOneShotChild(ChildSetSecurebit, &job, nullptr, 0);
  if (r != 0) return r < 0 ? r : -r;
  long cur = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  if (cur < 0) return -errno;
  long mask = cur;  // bits already set are known
  for (int bit = 0; bit < 32; bit++) {
    job.bit = bit;
    r = RunOneShotChild(ChildSetSecurebit, &job, nullptr, 0);
    if (r < 0) return r;
    if (r == 0) mask |= 1L << bit;
  }
  return mask;
}

// How deep user namespaces nest from here: a child unshares again and again, mapping its own
// ids each time (one line, allowed to the namespace's creator), until the kernel refuses.
struct DepthJob {
  int depth;
  int err;
};

// A /proc map file takes its whole content in one write(). 0 or -errno.
int WriteSmall(const char* path, const char* text, int len) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, text, size_t(len));
  int err = n < 0 ? errno : n != len ? EIO : 0;
  if (close(fd) != 0 && err == 0) err = errno;
  return -err;
}

// "0 ID 1\n" without printf (async-signal-safe).
int IdLine(char* buf, unsigned id) {
  char digits[12];
  int n = 0;
  do digits[n++] = char('0' + id % 10); while ((id /= 10) != 0);
  int len = 0;
  buf[len++] = '0';
  buf[len++] = ' ';
  while (n > 0) buf[len++] = digits[--n];
  buf[len++] = ' ';
  buf[len++] = '1';
  buf[len++] = '\n';
  return len;
}

int ChildNestUserNs(void* arg) {
  DepthJob* j = static_cast<DepthJob*>(arg);
  char line[32];
  for (j->depth = 0; j->depth < 64; j->depth++) {
    unsigned uid = geteuid(), gid = getegid();
    if (unshare(CLONE_NEWUSER) != 0) {
      j->err = errno;
      return 0;
    }
    int len = IdLine(line, uid);
    int r = WriteSmall("/proc/self/uid_map", line, len);
    if (r == 0) r = WriteSmall("/proc/self/setgroups", "deny", 4);
    if (r == 0) r = WriteSmall("/proc/self/gid_map", line, IdLine(line, gid));
    if (r < 0) {
      j->err = -r;
      return 0;
    }
  }
  return 0;
}

// Can we trace here? Seize, interrupt and release a paused child of our own. 0 or -errno.
int TryPtrace() {
  // Every signal blocked across the fork: the child waits with them blocked (none of Node's
  // handlers runs there) until SIGKILL. A raw clone: no atfork handlers; no exit signal.
  sigset_t all, old;
  sigfillset(&all);
  int err = pthread_sigmask(SIG_SETMASK, &all, &old);
  if (err != 0) return -err;
  long pid = syscall(SYS_clone, 0, 0, nullptr, nullptr, 0);
  if (pid == 0) {
    for (;;) pause();
  }
  err = pid < 0 ? errno : 0;
  int mask_err = pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return -err;
  int status;
  if (ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) != 0) err = errno;
  else if (ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) != 0) err = errno;
  else if (waitpid(pid_t(pid), &status, __WALL) < 0) err = errno;
  else if (ptrace(PTRACE_DETACH, pid, nullptr, nullptr) != 0) err = errno;
  if (kill(pid_t(pid), SIGKILL) != 0 && err == 0) err = errno;
  while (waitpid(pid_t(pid), &status, __WALL) < 0 && errno == EINTR) {
  }
  return err != 0 ? -err : -mask_err;
}

}  // namespace

bool ProbeKernel(KernelProbe* p, Failure* f) {
  if (uname(&p->uts) != 0) {
    f->Errno("uname", errno, 0);
    return false;
  }
  p->cap_last_cap = CapLastCap();
  p->max_user_namespaces = ReadLong("/proc/sys/user/max_user_namespaces", -1);
  p->create_userns_err = -TryCreateUserNamespace();
  DepthJob depth{0, 0};
  // The child always exits 0 once it has answered: anything else (255: killed, or its answer
  // fell short) leaves `depth` as we set it, and no depth is known.
  int dr = RunOneShotChild(ChildNestUserNs, &depth, &depth, sizeof depth);
  p->max_depth = dr == 0 ? depth.depth : 0;
  p->max_depth_err = dr == 0 ? depth.err : dr < 0 ? -dr : EIO;
  p->known_securebits = KnownSecurebits();
  p->ptrace_err = -TryPtrace();
  p->linux_cr = ScanLinuxCrSymbols();
  return true;
}

}  // namespace crc
