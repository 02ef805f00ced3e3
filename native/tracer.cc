#include "tracer.h"

#include <errno.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "one_shot_child.h"
#include "raw_syscall.h"
#include "spawn.h"
#include "unique_fd.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace crc {
namespace {

// Every frame, both ways, starts with this.
struct FrameHeader {
  uint32_t len;  // bytes of body that follow
  uint32_t id;   // the job's
  // Requests: the TracerHandler to run (the helper is a fork of ours: the same address), or 0
  // for a notice request: no body, one eventfd riding along, written once the job `id` (sent
  // before it, hence answered by then) is answered.
  uint64_t handler;
};

// A page shared with the helper (mapped MAP_SHARED before its fork): the id of the last job it
// answered, stored once the answer is in the socket, so that a caller may wait for it on its
// CPU without a system call (TracerPollSpinning). Ids go up by one a job, and jobs are answered
// in the order they were sent.
struct Board {
  uint32_t answered;
};

// The kernel's sigset (one word) for SIGTERM, SIGINT and SIGHUP.
constexpr unsigned long kTermMask =
    1UL << (SIGTERM - 1) | 1UL << (SIGINT - 1) | 1UL << (SIGHUP - 1);

// --- in the helper: raw system calls only --------------------------------------------------

bool g_exit_after_answer = false;  // the helper's copy (set by a handler: TracerExitAfterAnswer)

struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  unsigned long mask;
};

// What has come over the socket and is not handled yet: frames, and the descriptors that rode
// along (only notice requests carry one, so they pair up in order).
struct Inbox {
  char* buf;
  size_t cap, have;
  int fds[16];
  int nfds;
};

// Reads what the socket has (blocking while it has nothing), descriptors kept in order (one per
// read at most: the kernel ends a read at the data a descriptor came with). Returns the bytes
// read, 0 at end of file, or -errno.
long Receive(int sock, Inbox* in) {
  for (;;) {
    struct iovec iov = {in->buf + in->have, in->cap - in->have};
    union {
      struct cmsghdr h;
      char bytes[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.bytes;
    m.msg_controllen = sizeof ctl.bytes;
    long n = Sys(SYS_recvmsg, sock, &m, MSG_CMSG_CLOEXEC);
    if (n == -EINTR) continue;
    if (n <= 0) return n;
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int passed;
      memcpy(&passed, CMSG_DATA(c), sizeof passed);
      if (in->nfds < int(sizeof in->fds / sizeof in->fds[0])) in->fds[in->nfds++] = passed;
      else Sys(SYS_close, passed);  // (never: a read brings one at most, after the frames before it)
    }
    in->have += size_t(n);
    return n;
  }
}

// The descriptor that came with the oldest notice request not yet handled; -1 if none came.
int TakeFd(Inbox* in) {
  if (in->nfds == 0) return -1;
  int fd = in->fds[0];
  memmove(in->fds, in->fds + 1, sizeof(int) * size_t(--in->nfds));
  return fd;
}

long SendAll(int sock, const char* buf, size_t len) {
  while (len > 0) {
    long n = Sys(SYS_sendto, sock, buf, len, MSG_NOSIGNAL, 0);
    if (n == -EINTR) continue;
    if (n < 0) return n;
    buf += n;
    len -= size_t(n);
  }
  return 0;
}

// Closes every descriptor but `keep`: one held here would keep a pipe's reader from seeing end
// of file, or a file open.
void CloseAllBut(int keep) {
  if (keep > 0) Sys(SYS_close_range, 0, keep - 1, 0);
  if (Sys(SYS_close_range, keep + 1, ~0U, 0) == 0) return;
  for (int fd = 0; fd < 65536; fd++)  // no close_range (before 5.9)
    if (fd != keep) Sys(SYS_close, fd);
}

[[noreturn]] void HelperMain(int sock, char* mem, Board* board) {
  Sys(SYS_setsid);
  Sys(SYS_prctl, PR_SET_NAME, "cr-creds-trace");
  CloseAllBut(sock);
  // Our own dispositions (the helper has a copy of Node's handler table, whose handlers must
  // never run here): SIGCHLD for every stop of a tracee, whatever Node set (SA_NOCLDSTOP would
  // silence the stops); the termination signals act by default. Every signal stays blocked (as
  // the fork left them): jobs wait for SIGCHLD with rt_sigtimedwait, and the termination
  // signals are let through only while the helper waits for work (below).
  KernelSigaction dfl = {reinterpret_cast<void*>(SIG_DFL), 0, nullptr, 0};
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP})
    Sys(SYS_rt_sigaction, sig, &dfl, 0, sizeof dfl.mask);
  Sys(SYS_prctl, PR_SET_TIMERSLACK, 1);  // short sleeps (a test's delay) stay short
  char* scratch = mem;
  Inbox in = {mem + kTracerScratchBytes, sizeof(FrameHeader) + kTracerFrameBytes, 0, {}, 0};
  char* answer = in.buf + in.cap;
  unsigned long idle_mask = ~kTermMask;
  for (;;) {
    // A whole frame, waiting for more while there is not (the termination signals let through
    // meanwhile: one pending acts here, between jobs).
    FrameHeader h;
    for (;;) {
      if (in.have >= sizeof h) {
        memcpy(&h, in.buf, sizeof h);
        if (h.len > kTracerFrameBytes) Sys(SYS_exit_group, 0);  // (never: we send none)
        if (in.have - sizeof h >= h.len) break;
      }
      struct pollfd p = {sock, POLLIN, 0};
      if (Sys(SYS_ppoll, &p, 1, 0, &idle_mask, sizeof idle_mask) < 0) continue;
      if (Receive(sock, &in) <= 0) Sys(SYS_exit_group, 0);  // our end closed: we are done
    }
    size_t frame = sizeof h + h.len;
    if (h.handler == 0) {  // a notice request
      int notify = TakeFd(&in);
      if (notify >= 0) {
        uint64_t one = 1;
        Sys(SYS_write, notify, &one, sizeof one);
        Sys(SYS_close, notify);
      }
    } else {
      auto handler = reinterpret_cast<TracerHandler>(h.handler);
      size_t n = handler(in.buf + sizeof h, h.len, answer + sizeof h, scratch);
      FrameHeader a = {uint32_t(n), h.id, 0};
      memcpy(answer, &a, sizeof a);
      // Reading stopped before the answer goes: a job sent after it fails (EPIPE) and goes to
      // a new helper, rather than into a socket nobody reads.
      if (g_exit_after_answer) Sys(SYS_shutdown, sock, SHUT_RD);
      if (SendAll(sock, answer, sizeof a + n) < 0) break;
      __atomic_store_n(&board->answered, h.id, __ATOMIC_RELEASE);
      if (g_exit_after_answer) break;
    }
    in.have -= frame;
    memmove(in.buf, in.buf + frame, in.have);
    if (TracerTermPending()) break;
  }
  // Notices held for jobs it will not answer now: their loops look at once (and find it gone).
  for (int fd; (fd = TakeFd(&in)) >= 0;) {
    uint64_t one = 1;
    Sys(SYS_write, fd, &one, sizeof one);
  }
  Sys(SYS_exit_group, 0);
  __builtin_unreachable();
}

// --- in our process ------------------------------------------------------------------------

// The credentials a helper was started with (the starting thread's), compared with ours at
// every post.
struct CredSnapshot {
  uid_t uid[4];
  gid_t gid[4];
  uint64_t cap_eff, cap_prm, cap_inh;
  bool operator==(const CredSnapshot& o) const { return memcmp(this, &o, sizeof o) == 0; }
};

CredSnapshot CurrentCreds() {
  CredSnapshot s;
  memset(&s, 0, sizeof s);
  getresuid(&s.uid[0], &s.uid[1], &s.uid[2]);
  getresgid(&s.gid[0], &s.gid[1], &s.gid[2]);
  s.uid[3] = uid_t(syscall(SYS_setfsuid, -1));  // -1 changes nothing and returns the current one
  s.gid[3] = gid_t(syscall(SYS_setfsgid, -1));
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &h, d) == 0) {
    s.cap_eff = d[0].effective | uint64_t(d[1].effective) << 32;
    s.cap_prm = d[0].permitted | uint64_t(d[1].permitted) << 32;
    s.cap_inh = d[0].inheritable | uint64_t(d[1].inheritable) << 32;
  }
  return s;
}

}  // namespace

struct TracerHelper {
  ~TracerHelper() {
    if (board) munmap(board, sizeof *board);
  }
  int pid = 0;
  UniqueFd sock;
  Board* board = nullptr;  // shared with the helper
  CredSnapshot creds;
  bool dead = false;     // its socket reached end of file: it is exiting
  bool retired = false;  // no more jobs: it exits once it has answered those it has
  std::vector<char> inbuf;
  std::map<uint32_t, TracerJob*> pending;
};

namespace {

// Everything below, and every job's answer and state. Never destroyed, as g_handed: a reaper
// thread may use them while the process exits.
std::mutex& g_mu = *new std::mutex;
std::shared_ptr<TracerHelper> g_helper;
// Retired and dead helpers, kept until reaped.
std::vector<std::shared_ptr<TracerHelper>> g_retired;
// Retired helpers handed to a reaper thread (ReapLater), until they have exited.
std::vector<int>& g_handed = *new std::vector<int>;
uint32_t g_next_id = 0;

// A spin's pause between looks (the core's other hardware thread runs meanwhile).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Under g_mu.
void MarkDead(TracerHelper* h) {
  h->dead = true;
  for (auto& p : h->pending) p.second->state = -1;
  h->pending.clear();
}

// Under g_mu: takes in what the helper has answered, without blocking.
void Pump(TracerHelper* h) {
  if (h->dead) return;
  char buf[16384];
  for (;;) {
    ssize_t n = recv(h->sock.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {  // end of file (or reset): the helper is gone
      MarkDead(h);
      return;
    }
    h->inbuf.insert(h->inbuf.end(), buf, buf + n);
    size_t off = 0;
    for (;;) {
      FrameHeader a;
      if (h->inbuf.size() - off < sizeof a) break;
      memcpy(&a, h->inbuf.data() + off, sizeof a);
      if (h->inbuf.size() - off - sizeof a < a.len) break;
      auto it = h->pending.find(a.id);
      if (it != h->pending.end()) {
        const char* body = h->inbuf.data() + off + sizeof a;
        it->second->answer.assign(body, body + a.len);
        it->second->state = 1;
        h->pending.erase(it);
      }
      off += sizeof a + a.len;
    }
    h->inbuf.erase(h->inbuf.begin(), h->inbuf.begin() + off);
    if (size_t(n) < sizeof buf) break;
  }
}

// Under g_mu: no job will be posted to the current helper any more.
void RetireCurrent() {
  shutdown(g_helper->sock.get(), SHUT_WR);  // it sees end of file once it has read what came
  g_helper->retired = true;
  g_retired.push_back(std::move(g_helper));
  g_helper.reset();
}

// Under g_mu: reaps the retired helpers that are gone (a dead one has closed its socket, the
// last step of its exit: waiting for it is short).
void ReapRetired() {
  for (size_t i = 0; i < g_retired.size();) {
    TracerHelper* h = g_retired[i].get();
    Pump(h);
    int status;
    pid_t r = 0;
    if (h->dead)
      while ((r = waitpid(h->pid, &status, __WALL)) < 0 && errno == EINTR) {
      }
    if (!h->dead || r == 0) {
      i++;
      continue;
    }
    g_retired.erase(g_retired.begin() + long(i));
  }
}

// Under g_mu.
int StartHelper() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -errno;
  UniqueFd ours(sv[0]), theirs(sv[1]);
  // The helper's memory, mapped before the fork (it allocates nothing); our copy goes after.
  // Scratch, what comes in (a whole request frame at least), and the answer (a frame).
  size_t size = kTracerScratchBytes + 2 * (sizeof(FrameHeader) + kTracerFrameBytes);
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return -errno;
  auto h = std::make_shared<TracerHelper>();
  void* board = mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (board == MAP_FAILED) {
    int err = errno;
    munmap(mem, size);
    return -err;
  }
  h->board = static_cast<Board*>(board);
  h->board->answered = g_next_id;  // (ids go on from there: none of them looks answered)
  h->creds = CurrentCreds();
  sigset_t all, old;
  sigfillset(&all);
  int err = pthread_sigmask(SIG_SETMASK, &all, &old);  // inherited: the helper runs with all blocked
  if (err != 0) {
    munmap(mem, size);
    return -err;
  }
  // A plain fork (no exit signal: its end wakes nobody; we reap it with __WALL). The child
  // runs nothing but HelperMain's raw system calls.
  long pid = Sys(SYS_clone, 0, 0, 0, 0, 0);
  if (pid == 0) HelperMain(theirs.get(), static_cast<char*>(mem), h->board);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(mem, size);
  if (pid < 0) return int(pid);
  // Later forks (other helpers, children of ours until they exec) get none of it.
  if (madvise(h->board, sizeof(Board), MADV_DONTFORK) != 0) {
    int err = errno;
    kill(pid_t(pid), SIGKILL);
    while (waitpid(pid_t(pid), nullptr, __WALL) < 0 && errno == EINTR) {
    }
    return -err;
  }
  h->pid = int(pid);
  h->sock = std::move(ours);
  g_helper = std::move(h);
  return 0;
}

// Under g_mu: sends a frame (its header, then body), `fd` riding along unless -1, taking in
// answers meanwhile (the helper may be blocked writing one while we write). 0 or -errno.
int SendFrame(TracerHelper* h, const FrameHeader& hdr, const char* body, int fd) {
  struct iovec iov[2] = {{const_cast<FrameHeader*>(&hdr), sizeof hdr}, {const_cast<char*>(body), hdr.len}};
  size_t total = sizeof hdr + hdr.len, sent = 0;
  union {
    struct cmsghdr h;
    char bytes[CMSG_SPACE(sizeof(int))];
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  while (sent < total) {
    struct msghdr m;
    memset(&m, 0, sizeof m);
    // What is left of the two parts.
    struct iovec left[2];
    int nleft = 0;
    size_t skip = sent;
    for (auto& v : iov) {
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      left[nleft++] = {static_cast<char*>(v.iov_base) + skip, v.iov_len - skip};
      skip = 0;
    }
    m.msg_iov = left;
    m.msg_iovlen = size_t(nleft);
    if (sent == 0 && fd >= 0) {  // the descriptor rides with the first byte
      m.msg_control = ctl.bytes;
      m.msg_controllen = sizeof ctl.bytes;
      struct cmsghdr* c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n = sendmsg(h->sock.get(), &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      sent += size_t(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
    struct pollfd p = {h->sock.get(), POLLIN | POLLOUT, 0};
    if (poll(&p, 1, 1000) < 0 && errno != EINTR) return -errno;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      Pump(h);
      if (h->dead) return -EPIPE;
    }
  }
  return 0;
}

}  // namespace

void TracerExitAfterAnswer() { g_exit_after_answer = true; }

bool TracerTermPending() {
  unsigned long pending = 0;
  Sys(SYS_rt_sigpending, &pending, sizeof pending);
  return (pending & kTermMask) != 0;
}

int TracerPost(TracerJob* job) {
  if (job->request.size() > kTracerFrameBytes) return -E2BIG;
  std::lock_guard<std::mutex> lock(g_mu);
  for (int attempt = 0;; attempt++) {
    // (One that died unseen fails the send below: then once more, with a new one.)
    if (g_helper && (g_helper->dead || !(g_helper->creds == CurrentCreds()))) RetireCurrent();
    ReapRetired();
    if (!g_helper)
      if (int r = StartHelper()) return r;
    TracerHelper* h = g_helper.get();
    job->id = ++g_next_id;
    job->state = 0;
    job->answer.clear();
    job->helper = g_helper;
    h->pending[job->id] = job;
    FrameHeader hdr = {uint32_t(job->request.size()), job->id, reinterpret_cast<uint64_t>(job->handler)};
    int r = SendFrame(h, hdr, job->request.data(), -1);
    if (r == 0) return 0;
    h->pending.erase(job->id);
    job->helper.reset();
    if (!(r == -EPIPE || r == -ECONNRESET) || attempt > 0) return r;
    // It stopped reading (it ends after its last answer, which may still be on its way) or it
    // died since it was last looked at: what it sent is taken in, its other jobs end as it does,
    // and this one goes to a new helper.
    Pump(h);
    RetireCurrent();
  }
}

int TracerPoll(TracerJob* job) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (job->state == 0) Pump(job->helper.get());
  return job->state;
}

int TracerPollSpinning(TracerJob* job, long long max_ns) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (job->state == 0) Pump(job->helper.get());
    if (job->state != 0) return job->state;
    // Jobs posted before it come first: the answer is further off than a spin.
    if (job->helper->pending.begin()->first != job->id) return 0;
  }
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0 || CPU_COUNT(&cpus) < 2) return 0;
  const Board* board = job->helper->board;
  struct timespec t0, now;
  if (clock_gettime(CLOCK_MONOTONIC, &t0) != 0) return 0;
  // (Ids wrap: the difference says which is later.)
  while (int32_t(__atomic_load_n(&board->answered, __ATOMIC_ACQUIRE) - job->id) < 0) {
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0 ||
        (now.tv_sec - t0.tv_sec) * 1000000000LL + (now.tv_nsec - t0.tv_nsec) >= max_ns)
      return 0;
    CpuRelax();
  }
  return TracerPoll(job);
}

bool TracerWait(TracerJob* job) {
  for (;;) {
    int state = TracerPoll(job);
    if (state != 0) return state > 0;
    struct pollfd p = {job->helper->sock.get(), POLLIN, 0};
    poll(&p, 1, 50);  // woken by an answer (any job's) or its end; else look again
  }
}

int TracerNotifyWhenDone(TracerJob* job, int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  TracerHelper* h = job->helper.get();
  if (job->state != 0) {  // answered (or the helper died): at once
    uint64_t one = 1;
    return write(fd, &one, sizeof one) == sizeof one ? 0 : -errno;
  }
  if (h->retired) return -EPIPE;  // our side of its socket is shut: found by looking
  FrameHeader hdr = {0, job->id, 0};
  int r = SendFrame(h, hdr, nullptr, fd);
  if (r != -EPIPE && r != -ECONNRESET) return r;
  // It stopped reading (it ends after its last answer: TracerExitAfterAnswer) or it is gone.
  // What it sent is taken in; if that ends the job, the loop is told at once, else its answer is
  // still on its way and the look finds it.
  Pump(h);
  if (g_helper.get() == h) RetireCurrent();
  if (job->state == 0) return r;
  uint64_t one = 1;
  return write(fd, &one, sizeof one) == sizeof one ? 0 : -errno;
}

bool TracerStopIfIdle() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_helper) {
    Pump(g_helper.get());
    if (!g_helper->pending.empty()) return false;
    RetireCurrent();
  }
  // Those with nothing left to do exit at once. Bounded all the same (a helper stopped by
  // SIGSTOP would hold us): what is not reaped now is reaped later.
  for (auto& h : g_retired) {
    for (int i = 0; i < 10 && !h->dead && h->pending.empty(); i++) {
      struct pollfd p = {h->sock.get(), POLLIN, 0};
      poll(&p, 1, 10);
      Pump(h.get());
    }
  }
  ReapRetired();
  // One with nothing to do that is still not gone (a loaded machine, a SIGSTOP) is reaped by a
  // thread of its own once it exits: no later call may come to reap it. Through a pidfd opened
  // while it is still our unreaped child, so the pid cannot name another process meanwhile.
  // (A kernel with pidfd_open but without waitid on a pidfd, 5.3, keeps it for a later call.)
  for (size_t i = 0; i < g_retired.size();) {
    TracerHelper* h = g_retired[i].get();
    UniqueFd pidfd(h->pending.empty() ? int(syscall(SYS_pidfd_open, h->pid, 0)) : -1);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    bool waitable = pidfd && waitid(idtype_t(P_PIDFD), id_t(pidfd.get()), &si, WEXITED | WNOHANG | __WALL) == 0;
    int pid = h->pid;
    if (waitable && si.si_pid == 0) {
      // Still one of our helpers till it has exited (a tree walk of ours leaves it out).
      g_handed.push_back(pid);
      auto exited = [pid] {
        std::lock_guard<std::mutex> lock(g_mu);
        g_handed.erase(std::remove(g_handed.begin(), g_handed.end(), pid), g_handed.end());
      };
      if (!ReapLater(std::move(pidfd), exited)) {
        g_handed.pop_back();
        waitable = false;
      }
    }
    if (!waitable) {
      i++;  // reaped by a later call
      continue;
    }
    g_retired.erase(g_retired.begin() + long(i));  // reaped now, or by the thread; our end closed
  }
  return true;
}

std::vector<int> HelperPids() {
  std::vector<int> pids = OneShotChildPids();
  std::lock_guard<std::mutex> lock(g_mu);
  ReapRetired();
  if (g_helper) pids.insert(pids.begin(), g_helper->pid);
  for (auto& h : g_retired) pids.push_back(h->pid);
  pids.insert(pids.end(), g_handed.begin(), g_handed.end());
  return pids;
}

}  // namespace crc
