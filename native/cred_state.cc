#include "cred_state.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace crc {

int ReadCredState(CredState* s) {
  // Raw syscalls: glibc's id wrappers are fine for reading, but raw keeps this one thread's view
  // explicit and avoids any libc state.
  if (syscall(SYS_getresuid, &s->ruid, &s->euid, &s->suid) != 0) return -errno;
  if (syscall(SYS_getresgid, &s->rgid, &s->egid, &s->sgid) != 0) return -errno;
  // setfs[ug]id(-1) changes nothing (invalid id) and returns the current value.
  // It cannot fail: its answer is the id, never -1.
  s->fsuid = static_cast<uint32_t>(syscall(SYS_setfsuid, -1));
  s->fsgid = static_cast<uint32_t>(syscall(SYS_setfsgid, -1));

  long n = syscall(SYS_getgroups, kMaxGroups, s->groups);
  if (n < 0) return -errno;
  s->ngroups = static_cast<int32_t>(n);

  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return -errno;
  s->inheritable = (uint64_t(data[1].inheritable) << 32) | data[0].inheritable;
  s->permitted = (uint64_t(data[1].permitted) << 32) | data[0].permitted;
  s->effective = (uint64_t(data[1].effective) << 32) | data[0].effective;

  s->bounding = 0;
  s->ambient = 0;
  for (int cap = 0; cap < 64; cap++) {
    int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (r < 0) break;  // EINVAL past cap_last_cap
    if (r == 1) s->bounding |= uint64_t(1) << cap;
    int a = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
    if (a < 0 && errno != EINVAL) return -errno;  // EINVAL: a kernel without ambient caps
    if (a == 1) s->ambient |= uint64_t(1) << cap;
  }
  int sb = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  if (sb < 0) return -errno;
  s->securebits = sb;
  int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (nnp < 0) return -errno;
  s->no_new_privs = nnp;
  return 0;
}

}  // namespace crc
