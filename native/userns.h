// The user-namespace chain of a task, from the caller's namespace down to the task's.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

#include "failure.h"

namespace crc {

struct IdExtent {
  uint32_t inside, outside, count;
};

// One namespace below the caller's. Ids are relative to its parent level.
struct UserNsLevel {
  uint64_t inode;
  uint32_t owner_uid;  // the creator's uid in the parent namespace
  std::vector<IdExtent> uid_map, gid_map;
  bool setgroups_allowed;
};

// Inode of the caller's own user namespace (the image's root namespace).
bool CallerUserNsInode(uint64_t* inode, Failure* f);

// Fills *levels outermost first (the child of the caller's namespace first, the task's own
// namespace last; empty when the task shares the caller's). The maps are read in a helper that
// enters each level in turn (setns), where /proc/self/uid_map shows the map relative to the
// parent. Needs CAP_SYS_ADMIN over the chain.
bool ReadUserNsChain(int pid, std::vector<UserNsLevel>* levels, Failure* f);

}  // namespace crc
