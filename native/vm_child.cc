#include "vm_child.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/futex.h>

#include <algorithm>
#include <mutex>

namespace crc {

namespace {

// Helpers that are done with our memory but may still be exiting: reaped at the next start of
// one, or when a promise settles (ReapVmChildren). `running`: one-shot helpers at work.
std::mutex g_reap_mu;
std::vector<int> g_reap;
std::vector<int> g_running;

// Shared futexes (no FUTEX_PRIVATE_FLAG): the kernel's CLONE_CHILD_CLEARTID wake is shared.
long FutexWait(int* addr, int val, const struct timespec* timeout = nullptr) {
  return syscall(SYS_futex, addr, FUTEX_WAIT, val, timeout, nullptr, 0);
}

// The helper's stack, mapped once per calling thread (with a guard page below it) and reused:
// a fresh mapping per call costs its page faults and, at munmap, a TLB shootdown across the
// CPUs that run our threads.
struct VmStack {
  static constexpr size_t kGuard = 4096;
  static constexpr size_t kSize = 256 * 1024;
  void* base = nullptr;
  bool busy = false;  // a child of this thread runs on it
  ~VmStack() {
    if (base) munmap(base, kGuard + kSize);
  }
  char* Top() {
    if (!base) {
      void* p = mmap(nullptr, kGuard + kSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
      if (p == MAP_FAILED) return nullptr;
      if (mprotect(p, kGuard, PROT_NONE) != 0) {  // no guard page: no stack
        int err = errno;
        munmap(p, kGuard + kSize);
        errno = err;
        return nullptr;
      }
      base = p;
    }
    return static_cast<char*>(base) + kGuard + kSize;
  }
};
thread_local VmStack tls_stack;

struct VmChild {
  int pid = -1;
  int (*fn)(void*) = nullptr;
  void* arg = nullptr;
  int live = 0;     // cleared by the kernel when the child lets go of our memory (CLEARTID)
  int result = -1;  // fn's exit code, stored by the child
};

int VmTrampoline(void* p) {
  // Every signal is blocked from the first instruction (the mask is inherited): Node's
  // handlers were copied into the child, and none of them may run here.
  auto* c = static_cast<VmChild*>(p);
  int r = c->fn(c->arg) & 0xff;
  __atomic_store_n(&c->result, r, __ATOMIC_RELEASE);
  syscall(SYS_exit, r);  // raw exit: no atexit handlers, no flushing
  return 0;
}

}  // namespace

void ReapVmChildren() {
  std::lock_guard<std::mutex> lock(g_reap_mu);
  for (size_t i = 0; i < g_reap.size();) {
    int status;
    if (waitpid(g_reap[i], &status, __WALL | WNOHANG) == 0) {
      i++;  // still exiting
      continue;
    }
    g_reap[i] = g_reap.back();  // reaped (or, ECHILD, not ours to reap any more)
    g_reap.pop_back();
  }
}

int RunInVmChild(int (*fn)(void*), void* arg) {
  ReapVmChildren();
  char* top = tls_stack.busy ? nullptr : tls_stack.Top();
  if (!top) return tls_stack.busy ? -EBUSY : -errno;  // busy: fn called RunInVmChild
  VmChild c;
  c.fn = fn;
  c.arg = arg;
  c.live = 1;
  // Every signal blocked until the child is done: it starts with them blocked (the mask is
  // inherited), and nothing interrupts our wait, whose syscall would write this thread's errno,
  // which the child shares (it runs with our TLS).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  // No exit signal: the child's end is ours to reap (__WALL) and wakes nobody else (a SIGCHLD
  // would wake Node's event loop to look at its own children for nothing). CLEARTID: the kernel
  // zeroes `live` and wakes its futex once the child has let go of our memory, as it exits or is
  // killed.
  tls_stack.busy = true;  // before the clone: the child runs on this stack from its first instruction
  {
    std::lock_guard<std::mutex> lock(g_reap_mu);  // seen by HelperPids from its first instruction
    c.pid = clone(&VmTrampoline, top, CLONE_VM | CLONE_CHILD_CLEARTID, &c, nullptr, nullptr, &c.live);
    if (c.pid > 0) g_running.push_back(c.pid);
  }
  if (c.pid < 0) {
    int err = errno;
    tls_stack.busy = false;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return -err;
  }
  for (int v; (v = __atomic_load_n(&c.live, __ATOMIC_ACQUIRE)) != 0;) FutexWait(&c.live, v);
  tls_stack.busy = false;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  int result = __atomic_load_n(&c.result, __ATOMIC_ACQUIRE);
  // Reaped now if it is gone already; else a moment later, rather than sleeping here a second
  // time until its exit completes, for nothing we need.
  int status;
  bool gone = waitpid(c.pid, &status, __WALL | WNOHANG) != 0;
  {
    std::lock_guard<std::mutex> lock(g_reap_mu);
    g_running.erase(std::find(g_running.begin(), g_running.end(), c.pid));
    if (!gone) g_reap.push_back(c.pid);
  }
  return result < 0 ? 255 : result;  // no result stored: the child was killed
}

std::vector<int> VmChildPids() {
  ReapVmChildren();  // those that are gone are not seen any more
  std::lock_guard<std::mutex> lock(g_reap_mu);
  std::vector<int> pids(g_reap.begin(), g_reap.end());
  pids.insert(pids.end(), g_running.begin(), g_running.end());
  return pids;
}

}  // namespace crc
