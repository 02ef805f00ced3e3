#include "failure.h"

#include <errno.h>

namespace crc {

// A table of our own rather than strerrorname_np, which only glibc (2.32 and later) has; the
// numbers are the kernel's, the same under every C library. Where two names share a value
// (EAGAIN/EWOULDBLOCK, EDEADLK/EDEADLOCK, EOPNOTSUPP/ENOTSUP) the one listed is glibc's, so
// messages read the same everywhere.
std::string ErrnoName(int err) {
  switch (err) {
#define NAME(e) \
  case e:       \
    return #e;
    NAME(EPERM) NAME(ENOENT) NAME(ESRCH) NAME(EINTR) NAME(EIO) NAME(ENXIO) NAME(E2BIG) NAME(ENOEXEC)
    NAME(EBADF) NAME(ECHILD) NAME(EAGAIN) NAME(ENOMEM) NAME(EACCES) NAME(EFAULT) NAME(EBUSY)
    NAME(EEXIST) NAME(EXDEV) NAME(ENODEV) NAME(ENOTDIR) NAME(EISDIR) NAME(EINVAL) NAME(ENFILE)
    NAME(EMFILE) NAME(ENOTTY) NAME(ETXTBSY) NAME(EFBIG) NAME(ENOSPC) NAME(ESPIPE) NAME(EROFS)
    NAME(EMLINK) NAME(EPIPE) NAME(EDOM) NAME(ERANGE) NAME(EDEADLK) NAME(ENAMETOOLONG) NAME(ENOLCK)
    NAME(ENOSYS) NAME(ENOTEMPTY) NAME(ELOOP) NAME(ENODATA) NAME(ETIME) NAME(EOVERFLOW) NAME(EILSEQ)
    NAME(EUSERS) NAME(ENOTSOCK) NAME(EOPNOTSUPP) NAME(ECONNREFUSED) NAME(ECONNRESET) NAME(ETIMEDOUT)
    NAME(ESTALE) NAME(EDQUOT) NAME(ECANCELED) NAME(EOWNERDEAD) NAME(ENOTRECOVERABLE) NAME(ERFKILL)
    NAME(EHWPOISON)
#undef NAME
    default:
      return "E" + std::to_string(err);
  }
}

}  // namespace crc
