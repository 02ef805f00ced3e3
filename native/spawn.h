// Starting a restart child, as libuv's uv_spawn does it: everything the child needs is prepared
// before fork (spawn_plan.h), the child runs only raw syscalls (spawn_child.cc), and a
// close-on-exec pipe brings back either EOF (the exec happened) or one ErrorRecord.
#pragma once
#include <functional>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vector>

#include "failure.h"
#include "spawn_plan.h"
#include "unique_fd.h"

namespace crc {

// What child fd i is to be.
enum class StdioKind { kInherit, kPipe, kIgnore, kFd };
struct StdioSpec {
  StdioKind kind;
  int fd;  // kFd
};

// Sets plan->stdio for each spec, with the child ends (closed in the parent once the child is
// forked) and the parent ends (handed to the caller) it opens. Child fds 0-2: a pipe (fd 0 the
// child reads, 1 and 2 it writes), /dev/null for kIgnore; above 2: a socketpair (both
// directions, as child_process gives it), left closed for kIgnore.
bool OpenStdio(const std::vector<StdioSpec>& spec, Plan* plan, std::vector<UniqueFd>* child_end,
               std::vector<UniqueFd>* parent_end, Failure* f);

// A close-on-exec memfd holding the image, for the child's sys_restart.
bool ImageMemfd(const uint8_t* data, size_t len, UniqueFd* fd, Failure* f);

// Forks the child of `plan`, closes `child_ends` (the parent's copies) and waits for the exec.
// true and *failed false: the program runs as *pid, watched through *pidfd. true and *failed:
// the child stopped before execve and told why in *rec; it has been reaped.
bool StartRestartChild(const Plan& plan, std::vector<UniqueFd>* child_ends, pid_t* pid,
                       UniqueFd* pidfd, bool* failed, ErrorRecord* rec, Failure* f);

// waitid(P_PIDFD) until the child is reaped.
void ReapBlocking(int pidfd);

// Reaps the child of `pidfd` on a thread of its own once it exits, for a child that outlives
// whatever watched it: nothing else in the process waits for it (libuv reaps only its own
// children), so it would stay a zombie for the life of the process. The addon is pinned in
// memory first (a worker's end unloads the addons it loaded, and the thread runs our code);
// false where it cannot be pinned or no thread can be started: the caller reaps it, or it is
// left to become a zombie. `exited`, if given, is called on that thread once the child has
// exited and before it is reaped (until then its pid cannot name another process).
bool ReapLater(UniqueFd pidfd, std::function<void()> exited = nullptr);

}  // namespace crc
