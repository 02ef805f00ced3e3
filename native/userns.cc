#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "fd_io.h"
#include "one_shot_child.h"
#include "unique_fd.h"

namespace crc {
namespace {

// Deeper than the kernel allows (32 below init), so a runaway walk is caught.
constexpr int kMaxLevels = 40;
constexpr size_t kMapBuf = 16384;  // 340 extents x 3 x 10 digits fit

// What the helper answers for one level; err != 0: `step` failed there, and the walk stopped.
enum ChainStep : int32_t { kStepOwner = 1, kStepSetns, kStepUidMap, kStepGidMap, kStepSetgroups };
const char* const kStepNames[] = {"", "ioctl(NS_GET_OWNER_UID)", "setns(CLONE_NEWUSER)",
                                  "/proc/self/uid_map", "/proc/self/gid_map", "/proc/self/setgroups"};

struct LevelBuf {
  uint32_t owner;
  int32_t err, step;
  char uid_map[kMapBuf];
  char gid_map[kMapBuf];
  char setgroups[16];
};

struct ChainJob {
  const int* fds;    // outermost first
  LevelBuf* levels;  // the answer, one per fd
  int nlevels;
};

// Reads a small file whole, NUL-terminated. In the helper child: syscalls only. 0 or -errno.
int ReadSmallFile(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int n = ReadFull(fd, buf, cap - 1);
  close(fd);  // read-only: nothing a close could lose
  if (n < 0) return n;
  buf[n] = 0;
  return 0;
}

// In the helper child: enters each level in turn, outermost first.
int RunChain(void* p) {
  ChainJob* j = static_cast<ChainJob*>(p);
  for (int k = 0; k < j->nlevels; k++) {
    LevelBuf* l = &j->levels[k];
    // From the parent level, the owner's uid as the parent sees it.
    if (ioctl(j->fds[k], NS_GET_OWNER_UID, &l->owner) != 0) {
      l->err = errno, l->step = kStepOwner;
      return 1;
    }
    if (setns(j->fds[k], CLONE_NEWUSER) != 0) {
      l->err = errno, l->step = kStepSetns;
      return 1;
    }
    // Inside the level, its own maps show relative to its parent.
    struct {
      ChainStep step;
      char* buf;
      size_t cap;
    } files[] = {{kStepUidMap, l->uid_map, kMapBuf},
                 {kStepGidMap, l->gid_map, kMapBuf},
                 {kStepSetgroups, l->setgroups, sizeof l->setgroups}};
    for (auto& file : files) {
      int r = ReadSmallFile(kStepNames[file.step], file.buf, file.cap);
      if (r < 0) {
        l->err = -r, l->step = file.step;
        return 1;
      }
    }
  }
  return 0;
}

bool ParseMap(const char* text, std::vector<IdExtent>* out) {
  const char* p = text;
  while (*p) {
    unsigned long a, b, c;
    int used = 0;
    if (sscanf(p, " %lu %lu %lu%n", &a, &b, &c, &used) != 3) return false;
    if (a > 0xffffffffUL || b > 0xffffffffUL || c > 0xffffffffUL) return false;
    out->push_back({uint32_t(a), uint32_t(b), uint32_t(c)});
    p += used;
    while (*p == ' ' || *p == '\n') p++;
  }
  return true;
}

}  // namespace

bool CallerUserNsInode(uint64_t* inode, Failure* f) {
  struct stat st;
  if (stat("/proc/self/ns/user", &st) != 0) {
    f->Errno("stat /proc/self/ns/user", errno, 0);
    return false;
  }
  *inode = st.st_ino;
  return true;
}

bool ReadUserNsChain(int pid, std::vector<UserNsLevel>* levels, Failure* f) {
  uint64_t root;
  if (!CallerUserNsInode(&root, f)) return false;
  std::string path = "/proc/" + std::to_string(pid) + "/ns/user";
  std::vector<UniqueFd> chain;  // the task's namespace first
  std::vector<uint64_t> inodes;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    f->Errno("open " + path, errno == ENOENT ? ESRCH : errno, pid);
    return false;
  }
  for (;;) {
    struct stat st;
    if (fstat(fd.get(), &st) != 0) {
      f->Errno("fstat user namespace", errno, pid);
      return false;
    }
    if (st.st_ino == root) break;
    UniqueFd parent(ioctl(fd.get(), NS_GET_PARENT));
    int parent_err = errno;
    chain.push_back(std::move(fd));
    inodes.push_back(st.st_ino);
    if (chain.size() > size_t(kMaxLevels)) {
      f->Errno("ioctl(NS_GET_PARENT)", ELOOP, pid, "user namespace chain deeper than the kernel allows");
      return false;
    }
    if (!parent) {
      f->Errno("ioctl(NS_GET_PARENT)", parent_err, pid,
               parent_err == EPERM ? "the task's user namespace is not below the caller's" : "");
      return false;
    }
    fd = std::move(parent);
  }
  levels->clear();
  if (chain.empty()) return true;

  size_t n = chain.size();
  std::vector<int> fds(n);
  for (size_t k = 0; k < n; k++) fds[k] = chain[n - 1 - k].get();  // outermost first
  std::vector<LevelBuf> bufs(n);
  memset(bufs.data(), 0, n * sizeof(LevelBuf));
  ChainJob job{fds.data(), bufs.data(), int(n)};
  int r = RunOneShotChild(RunChain, &job, bufs.data(), n * sizeof(LevelBuf));
  if (r < 0) {
    f->Errno("clone", -r, pid, "starting the user-namespace helper");
    return false;
  }
  for (size_t k = 0; k < n; k++) {
    if (bufs[k].err == 0) continue;
    int step = bufs[k].step >= kStepOwner && bufs[k].step <= kStepSetgroups ? bufs[k].step : 0;
    f->Errno(kStepNames[step], bufs[k].err, pid,
             "user namespace level " + std::to_string(k + 1) + " of " + std::to_string(n));
    return false;
  }
  if (r != 0) {
    f->Errno("user-namespace helper", EIO, pid, "the helper died");
    return false;
  }
  for (size_t k = 0; k < n; k++) {
    UserNsLevel l;
    l.inode = inodes[n - 1 - k];
    l.owner_uid = bufs[k].owner;
    if (!ParseMap(bufs[k].uid_map, &l.uid_map) || !ParseMap(bufs[k].gid_map, &l.gid_map)) {
      f->Coded("ERR_PROC_PARSE", "malformed uid_map/gid_map at user namespace level " + std::to_string(k + 1), pid);
      return false;
    }
    l.setgroups_allowed = strncmp(bufs[k].setgroups, "allow", 5) == 0;
    levels->push_back(std::move(l));
  }
  return true;
}

}  // namespace crc
