// Any task's credentials from /proc/PID/status (and /proc/PID/task/TID/status per thread),
// parsed strictly: a malformed or missing line is ERR_PROC_PARSE, a vanished task is ESRCH.
// Ids are as /proc shows them: mapped into the reader's user namespace.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "failure.h"

namespace crc {

struct ProcStatus {
  char state = '?';
  int tgid = 0, pid = 0, ppid = 0, tracer_pid = 0;
  int threads = 0;  // of the process (0: the line is not there)
  uint32_t uid[4] = {}, gid[4] = {};  // real, effective, saved, fs
  std::vector<uint32_t> groups;
  std::vector<int> nstgid, nspid, nspgid, nssid;  // outermost pid namespace first
  uint64_t cap_inh = 0, cap_prm = 0, cap_eff = 0, cap_bnd = 0, cap_amb = 0;
  bool no_new_privs = false;
};

// Parses the text of a status file; `path` and `pid` only name it in errors.
bool ParseProcStatus(const std::string& text, const std::string& path, int pid, ProcStatus* out,
                     Failure* f);

// Reads and parses one status file; a missing file is ESRCH.
bool ReadProcStatus(const char* path, int pid, ProcStatus* out, Failure* f);

// A whole /proc file: into buf when it fits (status does, unless the task has hundreds of
// groups), else into *big. one_record: a file the kernel makes in one piece (a single_open
// seq_file: status, stat), whole in the first read that does not fill the room it had; else
// read to end of file. Returns the length, or -errno.
long ReadProcFile(const char* path, char* buf, size_t cap, std::string* big, bool one_record = false);

}  // namespace crc
