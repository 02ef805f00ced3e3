#include "one_shot_child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

#include "fd_io.h"
#include "unique_fd.h"

namespace crc {
namespace {

std::mutex g_mu;
std::vector<int> g_running;

[[noreturn]] void RunOneShot(int (*fn)(void*), void* arg, const void* answer,
                             size_t answer_len, int out) {
  int r = fn(arg) & 0xff;
  if (WriteAll(out, answer, answer_len) < 0) _exit(255);
  _exit(r);
}

}  // namespace

int RunOneShotChild(int (*fn)(void*), void* arg, void* answer, size_t answer_len) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -errno;
  UniqueFd rd(p[0]), wr(p[1]);
  // Every signal blocked across the fork: the child keeps them blocked (Node's handlers, copied
  // into it, never run there).
  sigset_t all, old;
  sigfillset(&all);
  int err = pthread_sigmask(SIG_SETMASK, &all, &old);
  if (err != 0) return -err;
  long pid;
  {
    std::lock_guard<std::mutex> lock(g_mu);  // listed from its first instruction
    // A raw clone is a fork without atfork handlers. No exit signal: the end is ours to reap
    // (__WALL) and wakes nobody else (a SIGCHLD would wake Node's loop to look at its children).
    pid = syscall(SYS_clone, 0, 0, nullptr, nullptr, 0);
    if (pid == 0) RunOneShot(fn, arg, answer, answer_len, wr.get());
    err = pid < 0 ? errno : 0;
    if (pid > 0) g_running.push_back(int(pid));
  }
  int mask_err = pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return -err;
  wr.reset();
  // Read before waiting: an answer larger than the pipe holds is written while we read.
  int n = ReadFull(rd.get(), answer, answer_len);
  int status = 0;
  long w;
  do w = waitpid(pid_t(pid), &status, __WALL);
  while (w < 0 && errno == EINTR);
  int wait_err = w < 0 ? errno : 0;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_running.erase(std::find(g_running.begin(), g_running.end(), int(pid)));
  }
  if (mask_err != 0) return -mask_err;
  if (wait_err != 0) return -wait_err;
  if (n < 0) return n;
  if (!WIFEXITED(status) || size_t(n) != answer_len) return 255;
  return WEXITSTATUS(status);
}

std::vector<int> OneShotChildPids() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_running;
}

}  // namespace crc
