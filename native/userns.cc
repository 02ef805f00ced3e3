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

#include "registry.h"
#include "live_worker.h"
#include "vm_child.h"

namespace crc {
namespace {

// Deeper than the kernel allows (32 below init), so a runaway walk is caught.
constexpr int kMaxLevels = 40;
constexpr size_t kMapBuf = 16384;  // 340 extents x 3 x 10 digits fit

struct LevelBuf {
  int fd;
  uint32_t owner;
  char uid_map[kMapBuf];
  char gid_map[kMapBuf];
  char setgroups[16];
  int uid_len, gid_len, sg_len;
};

struct ChainJob {
  int nlevels;
  LevelBuf* levels;  // outermost first
  const char* fail_syscall;
  int fail_errno;
  int fail_level;
};

int ReadAll(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return -e;
    }
    if (n == 0 || len + n >= cap - 1) {
      len += n;
      break;
    }
    len += n;
  }
  close(fd);
  buf[len] = 0;
  return static_cast<int>(len);
}

// In the helper child: only syscalls, only the job's buffers.
int RunChain(void* p) {
  ChainJob* j = static_cast<ChainJob*>(p);
  for (int k = 0; k < j->nlevels; k++) {
    LevelBuf* l = &j->levels[k];
    // From the parent level, the owner's uid as the parent sees it.
    if (ioctl(l->fd, NS_GET_OWNER_UID, &l->owner) != 0) {
      j->fail_syscall = "ioctl(NS_GET_OWNER_UID)";
      j->fail_errno = errno;
      j->fail_level = k + 1;
      return 1;
    }
    if (setns(l->fd, CLONE_NEWUSER) != 0) {
      j->fail_syscall = "setns(CLONE_NEWUSER)";
      j->fail_errno = errno;
      j->fail_level = k + 1;
      return 1;
    }
    // Inside the level, its own maps show relative to its parent.
    struct {
      const char* path;
      char* buf;
      size_t cap;
      int* len;
    } files[] = {{"/proc/self/uid_map", l->uid_map, kMapBuf, &l->uid_len},
                 {"/proc/self/gid_map", l->gid_map, kMapBuf, &l->gid_len},
                 {"/proc/self/setgroups", l->setgroups, sizeof l->setgroups, &l->sg_len}};
    for (auto& file : files) {
      *file.len = ReadAll(file.path, file.buf, file.cap);
      if (*file.len < 0) {
        j->fail_syscall = file.path;
        j->fail_errno = -*file.len;
        j->fail_level = k + 1;
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

struct FdCloser {
  std::vector<int>* fds;
  ~FdCloser() {
    for (int fd : *fds) close(fd);
  }
};

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
  std::vector<int> fds;  // the task's namespace first
  FdCloser closer{&fds};
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    f->Errno("open " + path, errno == ENOENT ? ESRCH : errno, pid);
    return false;
  }
  for (;;) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int e = errno;
      close(fd);
      f->Errno("fstat user namespace", e, pid);
      return false;
    }
    if (st.st_ino == root) {
      close(fd);
      break;
    }
    fds.push_back(fd);
    if (fds.size() > size_t(kMaxLevels)) {
      f->Errno("ioctl(NS_GET_PARENT)", ELOOP, pid, "user namespace chain deeper than the kernel allows");
      return false;
    }
    fd = ioctl(fd, NS_GET_PARENT);
    if (fd < 0) {
      f->Errno("ioctl(NS_GET_PARENT)", errno, pid,
               errno == EPERM ? "the task's user namespace is not below the caller's" : "");
      return false;
    }
  }
  levels->clear();
  if (fds.empty()) return true;

  size_t n = fds.size();
  std::vector<LevelBuf> bufs(n);
  for (size_t k = 0; k < n; k++) {
    memset(&bufs[k], 0, sizeof(LevelBuf));
    bufs[k].fd = fds[n - 1 - k];  // outermost first
  }
  ChainJob job{int(n), bufs.data(), nullptr, 0, 0};
  int r = RunInVmChild(RunChain, &job);
  if (r < 0) {
    f->Errno("clone", -r, pid, "starting the user-namespace helper");
    return false;
  }
  if (job.fail_syscall) {
    f->Errno(job.fail_syscall, job.fail_errno, pid,
             "user namespace level " + std::to_string(job.fail_level) + " of " + std::to_string(n));
    return false;
  }
  if (r != 0) {
    f->Errno("user-namespace helper", EIO, pid, "the helper died");
    return false;
  }
  for (size_t k = 0; k < n; k++) {
    UserNsLevel l;
    struct stat st;
    if (fstat(bufs[k].fd, &st) != 0) {
      f->Errno("fstat user namespace", errno, pid);
      return false;
    }
    l.inode = st.st_ino;
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

namespace {

Napi::Value LevelsToJs(Napi::Env env, const std::vector<UserNsLevel>& levels) {
  Napi::Array out = Napi::Array::New(env, levels.size());
  auto mapToJs = [&](const std::vector<IdExtent>& m) {
    Napi::Array a = Napi::Array::New(env, m.size());
    for (size_t i = 0; i < m.size(); i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("inside", m[i].inside);
      e.Set("outside", m[i].outside);
      e.Set("count", m[i].count);
      a.Set(uint32_t(i), e);
    }
    return a;
  };
  for (size_t k = 0; k < levels.size(); k++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("inode", Napi::BigInt::New(env, levels[k].inode));
    o.Set("ownerUid", levels[k].owner_uid);
    o.Set("uidMap", mapToJs(levels[k].uid_map));
    o.Set("gidMap", mapToJs(levels[k].gid_map));
    o.Set("setgroups", levels[k].setgroups_allowed ? "allow" : "deny");
    out.Set(uint32_t(k), o);
  }
  return out;
}

Napi::Value ReadUserNsChainJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(env, "readUserNsChain(pid): pid must be a number");
  int pid = info[0].As<Napi::Number>().Int32Value();
  auto levels = std::make_shared<std::vector<UserNsLevel>>();
  return PromiseWorker::Start(
      env, [pid, levels](Failure* f) { ReadUserNsChain(pid, levels.get(), f); },
      [levels](Napi::Env env) { return LevelsToJs(env, *levels); });
}

Napi::Value CallerUserNsJs(const Napi::CallbackInfo& info) {
  uint64_t ino;
  Failure f;
  if (!CallerUserNsInode(&ino, &f)) throw FailureToJs(info.Env(), f);
  return Napi::BigInt::New(info.Env(), ino);
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("readUserNsChain", Napi::Function::New(env, ReadUserNsChainJs, "readUserNsChain"));
  exports.Set("callerUserNsInode", Napi::Function::New(env, CallerUserNsJs, "callerUserNsInode"));
}

}  // namespace
}  // namespace crc

CRC_REGISTER_EXPORTS(crc::Export);
