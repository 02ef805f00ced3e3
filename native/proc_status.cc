#include "proc_status.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string_view>

#include "unique_fd.h"

namespace crc {
namespace {

using Sv = std::string_view;

bool ParseU64(Sv s, int base, uint64_t* out) {
  if (s.empty() || s.size() > (base == 16 ? 16u : 20u)) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    uint64_t next = v * base + d;
    if (base == 10 && next / 10 != v) return false;  // overflow
    v = next;
  }
  *out = v;
  return true;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Whitespace-separated decimal fields, each at most `max`, handed to add(value) in order;
// `exact` < 0 means any number of them (including none).
template <typename Add>
bool ParseList(Sv s, int exact, uint64_t max, Add add) {
  size_t i = 0;
  int count = 0;
  while (i < s.size()) {
    while (i < s.size() && IsBlank(s[i])) i++;
    if (i >= s.size()) break;
    size_t j = i;
    while (j < s.size() && !IsBlank(s[j])) j++;
    uint64_t v;
    if (!ParseU64(s.substr(i, j - i), 10, &v) || v > max) return false;
    if (exact >= 0 && count >= exact) return false;
    add(v);
    count++;
    i = j;
  }
  return exact < 0 || count == exact;
}

enum Key : unsigned {
  kState = 1u << 0, kTgid = 1u << 1, kPid = 1u << 2, kPPid = 1u << 3, kTracerPid = 1u << 4,
  kUid = 1u << 5, kGid = 1u << 6, kGroups = 1u << 7, kNStgid = 1u << 8, kNSpid = 1u << 9,
  kNSpgid = 1u << 10, kNSsid = 1u << 11, kCapInh = 1u << 12, kCapPrm = 1u << 13,
  kCapEff = 1u << 14, kCapBnd = 1u << 15,
};
constexpr unsigned kRequired = (1u << 16) - 1;
const char* const kKeyNames[] = {"State", "Tgid", "Pid", "PPid", "TracerPid", "Uid", "Gid",
                                 "Groups", "NStgid", "NSpid", "NSpgid", "NSsid", "CapInh",
                                 "CapPrm", "CapEff", "CapBnd"};

// The parser over the bytes of a status file, without a copy per line.
bool ParseStatus(Sv text, Sv path, int pid, ProcStatus* out, Failure* f) {
  unsigned seen = 0;
  size_t pos = 0;
  int lineno = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == Sv::npos) end = text.size();
    Sv line = text.substr(pos, end - pos);
    pos = end + 1;
    lineno++;
    auto bad = [&](const std::string& why) {
      f->Coded("ERR_PROC_PARSE",
               std::string(path) + ":" + std::to_string(lineno) + ": " + why + ": '" +
                   std::string(line) + "'",
               pid);
      return false;
    };
    size_t colon = line.find(':');
    if (colon == Sv::npos || colon == 0) return bad("not a 'Key: value' line");
    Sv key = line.substr(0, colon);
    Sv val = line.substr(colon + 1);
    while (!val.empty() && IsBlank(val.front())) val.remove_prefix(1);
    while (!val.empty() && IsBlank(val.back())) val.remove_suffix(1);

    auto one = [&](int* dst) {
      return ParseList(val, 1, 0x7fffffff, [&](uint64_t v) { *dst = int(v); });
    };
    auto ints = [&](std::vector<int>* dst) {
      dst->clear();
      return ParseList(val, -1, 0x7fffffff, [&](uint64_t v) { dst->push_back(int(v)); }) &&
             !dst->empty();
    };
    auto ids = [&](uint32_t* dst) {
      int i = 0;
      return ParseList(val, 4, 0xffffffffULL, [&](uint64_t v) { dst[i++] = uint32_t(v); });
    };
    auto hex = [&](uint64_t* dst) { return val.size() == 16 && ParseU64(val, 16, dst); };

    unsigned bit = 0;
    bool ok = true;
    // Most lines of a status file are none of ours: the first letter rules out most keys.
    switch (key[0]) {
      case 'S':
        if (key == "State") {
          bit = kState;
          ok = !val.empty() && val[0] >= 'A' && val[0] <= 'z';
          if (ok) out->state = val[0];
        }
        break;
      case 'T':
        if (key == "Tgid") { bit = kTgid; ok = one(&out->tgid); }
        else if (key == "TracerPid") { bit = kTracerPid; ok = one(&out->tracer_pid); }
        else if (key == "Threads") { ok = one(&out->threads); }  // optional
        break;
      case 'P':
        if (key == "Pid") { bit = kPid; ok = one(&out->pid); }
        else if (key == "PPid") { bit = kPPid; ok = one(&out->ppid); }
        break;
      case 'U':
        if (key == "Uid") { bit = kUid; ok = ids(out->uid); }
        break;
      case 'G':
        if (key == "Gid") { bit = kGid; ok = ids(out->gid); }
        else if (key == "Groups") {
          bit = kGroups;
          out->groups.clear();
          ok = ParseList(val, -1, 0xffffffffULL,
                         [&](uint64_t v) { out->groups.push_back(uint32_t(v)); });
        }
        break;
      case 'N':
        if (key == "NStgid") { bit = kNStgid; ok = ints(&out->nstgid); }
        else if (key == "NSpid") { bit = kNSpid; ok = ints(&out->nspid); }
        else if (key == "NSpgid") { bit = kNSpgid; ok = ints(&out->nspgid); }
        else if (key == "NSsid") { bit = kNSsid; ok = ints(&out->nssid); }
        else if (key == "NoNewPrivs") {  // 4.10+: optional
          ok = val == "0" || val == "1";
          out->no_new_privs = val == "1";
        }
        break;
      case 'C':
        if (key == "CapInh") { bit = kCapInh; ok = hex(&out->cap_inh); }
        else if (key == "CapPrm") { bit = kCapPrm; ok = hex(&out->cap_prm); }
        else if (key == "CapEff") { bit = kCapEff; ok = hex(&out->cap_eff); }
        else if (key == "CapBnd") { bit = kCapBnd; ok = hex(&out->cap_bnd); }
        else if (key == "CapAmb") { ok = hex(&out->cap_amb); }  // 4.3+: optional
        break;
      default:
        break;
    }
    if (!ok) return bad("malformed '" + std::string(key) + "' line");
    if (bit & seen) return bad("repeated '" + std::string(key) + "' line");
    seen |= bit;
  }
  if (seen != kRequired) {
    for (int i = 0; i < 16; i++)
      if (!(seen & (1u << i))) {
        f->Coded("ERR_PROC_PARSE", std::string(path) + ": no '" + kKeyNames[i] + "' line", pid);
        return false;
      }
  }
  return true;
}

}  // namespace

long ReadProcFile(const char* path, char* buf, size_t cap, std::string* big, bool one_record) {
  UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return -errno;
  size_t len = 0;
  bool spilled = false;
  for (;;) {
    char* dst = spilled ? &(*big)[len] : buf + len;
    size_t room = spilled ? big->size() - len : cap - len;
    ssize_t n = read(fd.get(), dst, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    len += size_t(n);
    // A file of one record (status, stat) comes whole in the first read that has room for it.
    if (one_record && size_t(n) < room) break;
    if (len == (spilled ? big->size() : cap)) {
      if (!spilled) {
        big->assign(buf, len);
        spilled = true;
      }
      big->resize(big->size() * 2);
    }
  }
  if (spilled) big->resize(len);
  return long(len);
}

bool ReadProcStatus(const char* path, int pid, ProcStatus* out, Failure* f) {
  char buf[4096];
  std::string big;
  long n = ReadProcFile(path, buf, sizeof buf, &big, true);
  if (n < 0) {
    int err = int(-n);
    // A task that is gone shows as a missing directory, or as ESRCH from read.
    f->Errno(std::string("read ") + path, err == ENOENT ? ESRCH : err, pid,
             err == ENOENT || err == ESRCH ? "no such process" : "");
    return false;
  }
  Sv text = big.empty() ? Sv(buf, size_t(n)) : Sv(big);
  return ParseStatus(text, path, pid, out, f);
}

bool ParseProcStatus(const std::string& text, const std::string& path, int pid, ProcStatus* out,
                     Failure* f) {
  return ParseStatus(text, path, pid, out, f);
}

}  // namespace crc
