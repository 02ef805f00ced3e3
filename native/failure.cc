#include "failure.h"

#include <errno.h>

namespace crc {

// A table of our own rather than strerrorname_np, which only glibc (2.32 and later) has. Where
// two names share a value (EAGAIN/EWOULDBLOCK, EDEADLK/EDEADLOCK, EOPNOTSUPP/ENOTSUP) the one
// listed is glibc's, so messages read the same on every C library.
std::string ErrnoName(int err) {
  switch (err) {
#ifdef EPERM
    case EPERM: return "EPERM";
#endif
#ifdef ENOENT
    case ENOENT: return "ENOENT";
#endif
#ifdef ESRCH
    case ESRCH: return "ESRCH";
#endif
#ifdef EINTR
    case EINTR: return "EINTR";
#endif
#ifdef EIO
    case EIO: return "EIO";
#endif
#ifdef ENXIO
    case ENXIO: return "ENXIO";
#endif
#ifdef E2BIG
    case E2BIG: return "E2BIG";
#endif
#ifdef ENOEXEC
    case ENOEXEC: return "ENOEXEC";
#endif
#ifdef EBADF
    case EBADF: return "EBADF";
#endif
#ifdef ECHILD
    case ECHILD: return "ECHILD";
#endif
#ifdef EAGAIN
    case EAGAIN: return "EAGAIN";
#endif
#ifdef ENOMEM
    case ENOMEM: return "ENOMEM";
#endif
#ifdef EACCES
    case EACCES: return "EACCES";
#endif
#ifdef EFAULT
    case EFAULT: return "EFAULT";
#endif
#ifdef EBUSY
    case EBUSY: return "EBUSY";
#endif
#ifdef EEXIST
    case EEXIST: return "EEXIST";
#endif
#ifdef EXDEV
    case EXDEV: return "EXDEV";
#endif
#ifdef ENODEV
    case ENODEV: return "ENODEV";
#endif
#ifdef ENOTDIR
    case ENOTDIR: return "ENOTDIR";
#endif
#ifdef EISDIR
    case EISDIR: return "EISDIR";
#endif
#ifdef EINVAL
    case EINVAL: return "EINVAL";
#endif
#ifdef ENFILE
    case ENFILE: return "ENFILE";
#endif
#ifdef EMFILE
    case EMFILE: return "EMFILE";
#endif
#ifdef ENOTTY
    case ENOTTY: return "ENOTTY";
#endif
#ifdef ETXTBSY
    case ETXTBSY: return "ETXTBSY";
#endif
#ifdef EFBIG
    case EFBIG: return "EFBIG";
#endif
#ifdef ENOSPC
    case ENOSPC: return "ENOSPC";
#endif
#ifdef ESPIPE
    case ESPIPE: return "ESPIPE";
#endif
#ifdef EROFS
    case EROFS: return "EROFS";
#endif
#ifdef EMLINK
    case EMLINK: return "EMLINK";
#endif
#ifdef EPIPE
    case EPIPE: return "EPIPE";
#endif
#ifdef EDOM
    case EDOM: return "EDOM";
#endif
#ifdef ERANGE
    case ERANGE: return "ERANGE";
#endif
#ifdef EDEADLK
    case EDEADLK: return "EDEADLK";
#endif
#ifdef ENAMETOOLONG
    case ENAMETOOLONG: return "ENAMETOOLONG";
#endif
#ifdef ENOLCK
    case ENOLCK: return "ENOLCK";
#endif
#ifdef ENOSYS
    case ENOSYS: return "ENOSYS";
#endif
#ifdef ENOTEMPTY
    case ENOTEMPTY: return "ENOTEMPTY";
#endif
#ifdef ELOOP
    case ELOOP: return "ELOOP";
#endif
#ifdef ENODATA
    case ENODATA: return "ENODATA";
#endif
#ifdef ETIME
    case ETIME: return "ETIME";
#endif
#ifdef EOVERFLOW
    case EOVERFLOW: return "EOVERFLOW";
#endif
#ifdef EILSEQ
    case EILSEQ: return "EILSEQ";
#endif
#ifdef EUSERS
    case EUSERS: return "EUSERS";
#endif
#ifdef ENOTSOCK
    case ENOTSOCK: return "ENOTSOCK";
#endif
#ifdef EOPNOTSUPP
    case EOPNOTSUPP: return "EOPNOTSUPP";
#endif
#ifdef ECONNREFUSED
    case ECONNREFUSED: return "ECONNREFUSED";
#endif
#ifdef ECONNRESET
    case ECONNRESET: return "ECONNRESET";
#endif
#ifdef ETIMEDOUT
    case ETIMEDOUT: return "ETIMEDOUT";
#endif
#ifdef ESTALE
    case ESTALE: return "ESTALE";
#endif
#ifdef EDQUOT
    case EDQUOT: return "EDQUOT";
#endif
#ifdef ECANCELED
    case ECANCELED: return "ECANCELED";
#endif
#ifdef EOWNERDEAD
    case EOWNERDEAD: return "EOWNERDEAD";
#endif
#ifdef ENOTRECOVERABLE
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
#endif
#ifdef ERFKILL
    case ERFKILL: return "ERFKILL";
#endif
#ifdef EHWPOISON
    case EHWPOISON: return "EHWPOISON";
#endif
    default: return "E" + std::to_string(err);
  }
}

}  // namespace crc
