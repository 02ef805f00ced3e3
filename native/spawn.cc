#include "spawn.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <system_error>
#include <thread>

#include "fd_io.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace crc {

bool OpenStdio(const std::vector<StdioSpec>& spec, Plan* plan, std::vector<UniqueFd>* child_end,
               std::vector<UniqueFd>* parent_end, Failure* f) {
  const size_t nfd = spec.size();
  child_end->clear();
  parent_end->clear();
  child_end->resize(nfd);
  parent_end->resize(nfd);
  plan->stdio.assign(nfd, -1);
  plan->stdio_work.assign(nfd, -1);  // the child's scratch, sized before fork
  for (size_t i = 0; i < nfd; i++) {
    int p[2];
    switch (spec[i].kind) {
      case StdioKind::kFd:
        plan->stdio[i] = spec[i].fd;
        break;
      case StdioKind::kInherit:
        plan->stdio[i] = int(i);
        break;
      case StdioKind::kPipe:
        if (i >= 3) {
          if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) {
            f->Errno("socketpair", errno, 0);
            return false;
          }
          (*child_end)[i].reset(p[0]);
          (*parent_end)[i].reset(p[1]);
        } else {
          if (pipe2(p, O_CLOEXEC) != 0) {
            f->Errno("pipe2", errno, 0);
            return false;
          }
          (*child_end)[i].reset(i == 0 ? p[0] : p[1]);
          (*parent_end)[i].reset(i == 0 ? p[1] : p[0]);
        }
        plan->stdio[i] = (*child_end)[i].get();
        break;
      case StdioKind::kIgnore:
        if (i >= 3) break;  // left closed: every fd of ours is close-on-exec
        (*child_end)[i].reset(open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC));
        if (!(*child_end)[i]) {
          f->Errno("open /dev/null", errno, 0);
          return false;
        }
        plan->stdio[i] = (*child_end)[i].get();
        break;
    }
  }
  return true;
}

bool ImageMemfd(const uint8_t* data, size_t len, UniqueFd* fd, Failure* f) {
  fd->reset(int(syscall(SYS_memfd_create, "cr-creds-image", MFD_CLOEXEC)));
  if (!*fd) {
    f->Errno("memfd_create", errno, 0);
    return false;
  }
  int r = WriteAll(fd->get(), data, len);
  if (r < 0) {
    f->Errno("write image memfd", -r, 0);
    return false;
  }
  return true;
}

namespace {

// waitid(P_PIDFD) until the child has exited, reaping it unless `flags` holds WNOWAIT.
void WaitPidfd(int pidfd, int flags) {
  siginfo_t info;
  for (;;) {
    // __WALL: a child with no exit signal (the tracer) is waited for too.
    if (waitid(idtype_t(P_PIDFD), id_t(pidfd), &info, WEXITED | __WALL | flags) == 0 || (errno != EINTR && errno != EAGAIN)) return;
    // EAGAIN: a pidfd that libuv watched is O_NONBLOCK; it turns readable when the child exits.
    if (errno == EAGAIN) {
      struct pollfd p = {pidfd, POLLIN, 0};
      (void)poll(&p, 1, -1);  // EINTR or an error: waitid again says what holds
    }
  }
}

// Until the child has exited, leaving it to be reaped.
void WaitExited(int pidfd) { WaitPidfd(pidfd, WNOWAIT); }

}  // namespace

void ReapBlocking(int pidfd) { WaitPidfd(pidfd, 0); }

bool StartRestartChild(const Plan& plan, std::vector<UniqueFd>* child_ends, pid_t* pid_out,
                       UniqueFd* pidfd_out, bool* failed, ErrorRecord* rec, Failure* f) {
  *failed = false;
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) != 0) {
    f->Errno("pipe2", errno, 0);
    return false;
  }
  UniqueFd err_rd(ep[0]), err_wr(ep[1]);

  // All signals blocked across fork, so no Node handler runs in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  int err = pthread_sigmask(SIG_SETMASK, &all, &old);
  if (err != 0) {
    f->Errno("pthread_sigmask", err, 0);
    return false;
  }
  int pidfd = -1;
  long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, nullptr, 0);
  if (pid == 0) RunChild(plan, err_wr.get());  // err_rd: close-on-exec, nothing to do there
  int fork_err = errno;
  err = pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    f->Errno("clone", fork_err, 0);
    return false;
  }
  UniqueFd pidfd_owner(pidfd);
  if (err != 0) {
    // The child is on its way with our signals blocked here: it does not outlive the failure.
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    ReapBlocking(pidfd);
    f->Errno("pthread_sigmask", err, int(pid));
    return false;
  }

  err_wr.reset();
  for (auto& c : *child_ends) c.reset();

  *rec = {};
  int n = ReadFull(err_rd.get(), rec, sizeof *rec);
  if (n != 0) {
    ReapBlocking(pidfd);
    if (n < 0) f->Errno("read restart error pipe", -n, int(pid));
    else if (n != int(sizeof *rec)) f->Errno("restart child: short error record", EIO, int(pid));
    else *failed = true;
    return *failed;
  }
  *pid_out = pid_t(pid);
  *pidfd_out = std::move(pidfd_owner);
  return true;
}

namespace {

// The reaper thread runs the addon's code, and a worker's end unloads the addons it loaded: once
// a thread is needed the addon is pinned in memory for the life of the process.
bool PinAddon() {
  static std::once_flag once;
  static bool pinned = false;
  std::call_once(once, [] {
    Dl_info info;
    pinned = dladdr(reinterpret_cast<void*>(&PinAddon), &info) != 0 && info.dli_fname != nullptr &&
             dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
  });
  return pinned;
}

}  // namespace

// Every signal is blocked in the reaper thread: they are for Node's threads.
bool ReapLater(UniqueFd pidfd, std::function<void()> exited) {
  if (!PinAddon()) return false;  // rather than a thread in unmapped code
  sigset_t all, old;
  sigfillset(&all);
  if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0) return false;  // it would take Node's signals
  int fd = pidfd.get();
  bool started = false;
  try {
    std::thread([fd, exited = std::move(exited)] {
      if (exited) {
        WaitExited(fd);
        exited();
      }
      ReapBlocking(fd);
      close(fd);
    }).detach();
    pidfd.release();  // the thread's now
    started = true;
  } catch (const std::system_error&) {
    // No thread to spare.
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return started;
}

}  // namespace crc
