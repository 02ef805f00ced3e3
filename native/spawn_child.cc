// The restart child between fork() and execve(): a straight list of named steps, each a raw
// syscall on plan data prepared before the fork. No allocation, no locks, no exceptions, no
// stdio; a failure is one ErrorRecord on the close-on-exec error pipe, then _exit(127).
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd_io.h"
#include "spawn_plan.h"

namespace crc {
namespace {

[[noreturn]] void Fail(int err_fd, Phase phase, int step, int err, int field, uint64_t want = 0,
                       uint64_t got = 0) {
  ErrorRecord rec = {int32_t(phase), step, err, field, want, got};
  WriteAll(err_fd, &rec, sizeof rec);  // a record that does not arrive whole: the parent says EIO
  _exit(127);
}

// Stand-in for sys_restart, NAMED AS SUCH: used only when the plan asks for it (tests of the
// linux-cr plumbing on kernels without the syscall). It checks that the image fd carries the
// head magic, then returns the errno the test asked for; it changes no creds.
int StandInRestart(const SysRestart& r) {
  if (r.stand_in_errno != 0) return -r.stand_in_errno;
  unsigned char b[8];
  if (pread(r.image_fd, b, 8, 8) != 8) return -EINVAL;
  static const unsigned char le[8] = {0x00, 0xd2, 0xa2, 0xc0, 0x0c, 0xed, 0xfe, 0x00};
  bool is_le = true, is_be = true;
  for (int i = 0; i < 8; i++) {
    is_le = is_le && b[i] == le[i];
    is_be = is_be && b[i] == le[7 - i];
  }
  return is_le || is_be ? 0 : -EINVAL;
}

int SysRestartSelf(const SysRestart& r) {
  if (r.stand_in) return StandInRestart(r);
  // On a kernel without sys_restart every number the series used belongs to another syscall:
  // never issue one there (the parent refuses such a plan; this holds the line in the child).
  if (r.nr <= 0 || !r.kernel_has_it) return -ENOSYS;
  // sys_restart(pid 0 = self, fd, flags, logfd -1)
  if (syscall(r.nr, 0, r.image_fd, r.flags, -1) < 0) return -errno;
  return 0;
}

int Capset(const OpRec& op) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  d[0].inheritable = uint32_t(op.inheritable);
  d[1].inheritable = uint32_t(op.inheritable >> 32);
  d[0].permitted = uint32_t(op.permitted);
  d[1].permitted = uint32_t(op.permitted >> 32);
  d[0].effective = uint32_t(op.effective);
  d[1].effective = uint32_t(op.effective >> 32);
  return syscall(SYS_capset, &hdr, d) == 0 ? 0 : -errno;
}

// setfs[ug]id never fails: it returns the old id. Asking again with -1 tells whether it took.
int SetFsId(long nr, int64_t id) {
  syscall(nr, id);
  long now = syscall(nr, -1);
  return uint32_t(now) == uint32_t(id) ? 0 : -EPERM;
}

int Prctl(int option, unsigned long a, unsigned long b = 0) {
  return prctl(option, a, b, 0, 0) == 0 ? 0 : -errno;
}

}  // namespace

// Node installs handlers and ignores SIGPIPE; a program must start with the defaults. Signals
// were blocked in the parent around fork, so none of Node's handlers can run here.
int ResetSignals() {
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < _NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // EINVAL for the signals the C library keeps for itself: they stay as it set them.
    if (sigaction(sig, &sa, nullptr) != 0 && errno != EINVAL) return -errno;
  }
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) return -errno;
  return 0;
}

// One op; returns 0 or -errno (and *field for unshare_user). Shared with the agreement harness.
int ApplyOp(const Plan& plan, const OpRec& op, int* field, uint64_t* detail) {
  *field = 0;
  uint64_t ignored = 0;
  if (detail == nullptr) detail = &ignored;
  *detail = 0;
  switch (op.kind) {
    case OpKind::kSetresuid:
      return syscall(SYS_setresuid, op.a, op.b, op.c) == 0 ? 0 : -errno;
    case OpKind::kSetresgid:
      return syscall(SYS_setresgid, op.a, op.b, op.c) == 0 ? 0 : -errno;
    case OpKind::kSetfsuid:
      return SetFsId(SYS_setfsuid, op.a);
    case OpKind::kSetfsgid:
      return SetFsId(SYS_setfsgid, op.a);
    case OpKind::kSetgroups:
      return syscall(SYS_setgroups, op.groups_len, plan.gids.data() + op.groups_off) == 0 ? 0
                                                                                          : -errno;
    case OpKind::kCapset:
      return Capset(op);
    case OpKind::kSetSecurebits:
      return Prctl(PR_SET_SECUREBITS, op.a);
    case OpKind::kSetKeepcaps:
      return Prctl(PR_SET_KEEPCAPS, op.a);
    case OpKind::kCapbsetDrop:
      return Prctl(PR_CAPBSET_DROP, op.a);
    case OpKind::kAmbientRaise:
      return Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, op.a);
    case OpKind::kAmbientLower:
      return Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, op.a);
    case OpKind::kAmbientClearAll:
      return Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
    case OpKind::kSetNoNewPrivs:
      return Prctl(PR_SET_NO_NEW_PRIVS, 1);
    case OpKind::kUnshareUser: {
      UnshareJob job = {op.setgroups, plan.maps.data() + op.uid_off, op.uid_len,
                        plan.maps.data() + op.gid_off, op.gid_len,
                        op.uid_helper ? plan.helpers[op.uid_helper - 1].get() : nullptr,
                        op.gid_helper ? plan.helpers[op.gid_helper - 1].get() : nullptr};
      return UnshareUserLevel(job, field, detail);
    }
    case OpKind::kSysRestart:
      return SysRestartSelf(plan.restart);
  }
  return -EINVAL;
}

namespace {

// The first field that differs, or -1.
int FirstDifference(const CredState& want, const CredState& got, uint32_t mask) {
  auto on = [mask](int f) { return (mask >> f) & 1u; };
  if (on(kVUid) && want.ruid != got.ruid) return kVUid;
  if (on(kVEuid) && want.euid != got.euid) return kVEuid;
  if (on(kVSuid) && want.suid != got.suid) return kVSuid;
  if (on(kVFsuid) && want.fsuid != got.fsuid) return kVFsuid;
  if (on(kVGid) && want.rgid != got.rgid) return kVGid;
  if (on(kVEgid) && want.egid != got.egid) return kVEgid;
  if (on(kVSgid) && want.sgid != got.sgid) return kVSgid;
  if (on(kVFsgid) && want.fsgid != got.fsgid) return kVFsgid;
  if (on(kVGroups)) {
    if (want.ngroups != got.ngroups) return kVGroups;
    for (int i = 0; i < want.ngroups; i++)
      if (want.groups[i] != got.groups[i]) return kVGroups;
  }
  if (on(kVInheritable) && want.inheritable != got.inheritable) return kVInheritable;
  if (on(kVPermitted) && want.permitted != got.permitted) return kVPermitted;
  if (on(kVEffective) && want.effective != got.effective) return kVEffective;
  if (on(kVBounding) && want.bounding != got.bounding) return kVBounding;
  if (on(kVAmbient) && want.ambient != got.ambient) return kVAmbient;
  if (on(kVSecurebits) && want.securebits != got.securebits) return kVSecurebits;
  if (on(kVNoNewPrivs) && want.no_new_privs != got.no_new_privs) return kVNoNewPrivs;
  return -1;
}

void FieldValues(const CredState& w, const CredState& g, int f, uint64_t* want, uint64_t* got) {
  switch (f) {
    case kVUid: *want = w.ruid, *got = g.ruid; break;
    case kVEuid: *want = w.euid, *got = g.euid; break;
    case kVSuid: *want = w.suid, *got = g.suid; break;
    case kVFsuid: *want = w.fsuid, *got = g.fsuid; break;
    case kVGid: *want = w.rgid, *got = g.rgid; break;
    case kVEgid: *want = w.egid, *got = g.egid; break;
    case kVSgid: *want = w.sgid, *got = g.sgid; break;
    case kVFsgid: *want = w.fsgid, *got = g.fsgid; break;
    case kVGroups: *want = uint64_t(w.ngroups), *got = uint64_t(g.ngroups); break;
    case kVInheritable: *want = w.inheritable, *got = g.inheritable; break;
    case kVPermitted: *want = w.permitted, *got = g.permitted; break;
    case kVEffective: *want = w.effective, *got = g.effective; break;
    case kVBounding: *want = w.bounding, *got = g.bounding; break;
    case kVAmbient: *want = w.ambient, *got = g.ambient; break;
    case kVSecurebits: *want = uint32_t(w.securebits), *got = uint32_t(g.securebits); break;
    case kVNoNewPrivs: *want = uint32_t(w.no_new_privs), *got = uint32_t(g.no_new_privs); break;
  }
}

// Child fd i gets plan.stdio[i]. Sources below the highest child fd are first moved above it,
// so that one dup2 cannot clobber another's source.
int SetUpStdio(const Plan& plan, int* which) {
  const int n = int(plan.stdio.size());
  int* src = plan.stdio_work.data();
  for (int i = 0; i < n; i++) {
    *which = i;
    src[i] = plan.stdio[i];
    if (src[i] >= 0 && src[i] < n && src[i] != i) {
      src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, n);
      if (src[i] < 0) return -errno;
    }
  }
  for (int i = 0; i < n; i++) {
    *which = i;
    if (src[i] < 0) continue;  // leave as is
    if (src[i] == i) {
      // Inherit: Node may hold its stdio close-on-exec; a closed fd stays closed.
      if (fcntl(i, F_SETFD, 0) != 0 && errno != EBADF) return -errno;
    } else if (dup2(src[i], i) < 0) {
      return -errno;
    }
  }
  return 0;
}

}  // namespace

[[noreturn]] void RunChild(const Plan& plan, int err_fd) {
  int err = ResetSignals();
  if (err < 0) Fail(err_fd, Phase::kSignals, -1, -err, 0);

  // First, before any op: a session of its own, so that a signal to the group reaches it alone.
  if (plan.detached && setsid() < 0) Fail(err_fd, Phase::kSignals, -1, errno, 0);

  for (size_t i = 0; i < plan.ops.size(); i++) {
    int field = 0;
    uint64_t detail = 0;
    err = ApplyOp(plan, plan.ops[i], &field, &detail);
    if (err < 0) Fail(err_fd, Phase::kOp, int(i), -err, field, 0, detail);
  }

  if (plan.verify_mask != 0) {
    int r = ReadCredState(plan.readback);
    if (r < 0) Fail(err_fd, Phase::kVerify, -1, -r, -1);
    int f = FirstDifference(*plan.expect, *plan.readback, plan.verify_mask);
    if (f >= 0) {
      uint64_t want = 0, got = 0;
      FieldValues(*plan.expect, *plan.readback, f, &want, &got);
      Fail(err_fd, Phase::kVerify, -1, EPERM, f, want, got);
    }
  }

  int which = 0;
  err = SetUpStdio(plan, &which);
  if (err < 0) Fail(err_fd, Phase::kStdio, -1, -err, which);

  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) != 0) Fail(err_fd, Phase::kChdir, -1, errno, 0);

  // Last before execve, after every cred change: commit_creds() clears the parent-death signal
  // when the ids or the permitted set change. The signal fires when the thread that forked us
  // exits (spawn.cc forks on the calling JS thread). A parent that died before it was armed is
  // seen by getppid(): we were reparented, so we stop here (nobody reads the error pipe).
  if (plan.die_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) Fail(err_fd, Phase::kDieWithParent, -1, errno, 0);
    if (getppid() != plan.parent_pid) _exit(127);
  }

  // As execvp: go on past ENOENT / ENOTDIR / EACCES, report EACCES if any candidate gave it.
  err = ENOENT;
  bool saw_eacces = false;
  for (const std::string& f : plan.files) {
    execve(f.c_str(), plan.argv.data(), plan.envp.data());
    err = errno;
    if (err == EACCES) saw_eacces = true;
    if (err != ENOENT && err != ENOTDIR && err != EACCES) break;
  }
  if (saw_eacces && (err == ENOENT || err == ENOTDIR)) err = EACCES;
  Fail(err_fd, Phase::kExecve, -1, err, 0);
}

}  // namespace crc
