// Whole-buffer read and write on pipes, async-signal-safe (plain syscalls, no allocation): used
// in forked children before execve and by the parent reading what they report.
#ifndef CRC_FD_IO_H_
#define CRC_FD_IO_H_

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

namespace crc {

// Writes all of buf, past EINTR and short writes. 0, or -errno.
inline int WriteAll(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= size_t(n);
  }
  return 0;
}

// Reads until len bytes or end of file. The count read, or -errno.
inline int ReadFull(int fd, void* buf, size_t len) {
  char* p = static_cast<char*>(buf);
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, p + got, len - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    got += size_t(n);
  }
  return int(got);
}

}  // namespace crc

#endif  // CRC_FD_IO_H_
