#include "file_caps.h"

#include <endian.h>
#include <errno.h>
#include <linux/capability.h>
#include <sys/xattr.h>

namespace crc {
namespace {
constexpr char kXattr[] = "security.capability";
}  // namespace

bool ReadFileCaps(const std::string& path, FileCaps* caps, bool* present, Failure* f) {
  *present = false;
  union {
    struct vfs_ns_cap_data d;
    unsigned char room[64];  // a longer value (a later revision) is refused below, not ERANGE
  } x = {};
  ssize_t n = getxattr(path.c_str(), kXattr, &x, sizeof x);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) return true;
    f->Errno("getxattr " + path, errno, 0);
    return false;
  }
  if (n < ssize_t(sizeof x.d.magic_etc)) {
    f->Errno("security.capability of " + path + ": too short", EINVAL, 0);
    return false;
  }
  // The fields are little-endian on disk.
  uint32_t magic = le32toh(x.d.magic_etc);
  uint32_t rev = magic & VFS_CAP_REVISION_MASK;
  size_t words = rev == VFS_CAP_REVISION_1 ? VFS_CAP_U32_1 : VFS_CAP_U32_2;
  size_t need = rev == VFS_CAP_REVISION_1   ? XATTR_CAPS_SZ_1
                : rev == VFS_CAP_REVISION_2 ? XATTR_CAPS_SZ_2
                                            : XATTR_CAPS_SZ_3;
  if ((rev != VFS_CAP_REVISION_1 && rev != VFS_CAP_REVISION_2 && rev != VFS_CAP_REVISION_3) ||
      size_t(n) < need) {
    f->Errno("security.capability of " + path + ": unknown revision", EINVAL, 0);
    return false;
  }
  *caps = FileCaps();
  for (size_t i = 0; i < words; i++) {
    caps->permitted |= uint64_t(le32toh(x.d.data[i].permitted)) << (32 * i);
    caps->inheritable |= uint64_t(le32toh(x.d.data[i].inheritable)) << (32 * i);
  }
  caps->effective = (magic & VFS_CAP_FLAGS_EFFECTIVE) != 0;
  caps->has_rootid = rev == VFS_CAP_REVISION_3;
  if (caps->has_rootid) caps->rootid = le32toh(x.d.rootid);
  *present = true;
  return true;
}

bool WriteFileCaps(const std::string& path, const FileCaps& caps, Failure* f) {
  struct vfs_ns_cap_data d = {};
  d.data[0].permitted = htole32(uint32_t(caps.permitted));
  d.data[1].permitted = htole32(uint32_t(caps.permitted >> 32));
  d.data[0].inheritable = htole32(uint32_t(caps.inheritable));
  d.data[1].inheritable = htole32(uint32_t(caps.inheritable >> 32));
  uint32_t rev = caps.has_rootid ? VFS_CAP_REVISION_3 : VFS_CAP_REVISION_2;
  size_t len = caps.has_rootid ? XATTR_CAPS_SZ_3 : XATTR_CAPS_SZ_2;
  if (caps.has_rootid) d.rootid = htole32(caps.rootid);
  d.magic_etc = htole32(rev | (caps.effective ? VFS_CAP_FLAGS_EFFECTIVE : 0));
  if (setxattr(path.c_str(), kXattr, &d, len, 0) != 0) {
    f->Errno("setxattr", errno, 0);
    return false;
  }
  return true;
}

bool RemoveFileCaps(const std::string& path, Failure* f) {
  if (removexattr(path.c_str(), kXattr) != 0 && errno != ENODATA) {
    f->Errno("removexattr", errno, 0);
    return false;
  }
  return true;
}

}  // namespace crc
