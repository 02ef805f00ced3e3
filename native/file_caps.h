// File capabilities: the security.capability attribute (struct vfs_cap_data / vfs_ns_cap_data,
// revisions 1-3), read for newuidmap / newgidmap installed with file capabilities instead of the
// set-uid bit, written by the agreement harness for its execve cases.
#pragma once
#include <stdint.h>

#include <string>

#include "failure.h"

namespace crc {

struct FileCaps {
  uint64_t permitted = 0, inheritable = 0;
  bool effective = false;    // the permitted caps are raised at execve
  bool has_rootid = false;   // VFS_CAP_REVISION_3
  uint32_t rootid = 0;       // the namespace root uid the caps apply to
};

// *present: false when the file has no file capabilities (caps then untouched).
bool ReadFileCaps(const std::string& path, FileCaps* caps, bool* present, Failure* f);

// Revision 2, or 3 when caps.has_rootid.
bool WriteFileCaps(const std::string& path, const FileCaps& caps, Failure* f);

// Removing what is not there succeeds.
bool RemoveFileCaps(const std::string& path, Failure* f);

}  // namespace crc
