#include "securebits_ptrace.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "securebits_bpf.h"
#include "securebits_inject.h"
#include "tracee_regs.h"

namespace crc {

bool IsSecurebitsRefusal(const Failure& f) {
  return f.code == "ERR_UNSUPPORTED_ARCH" ||
         (f.code.empty() && (((f.err == EPERM || f.err == EACCES) && (f.syscall == kSeizeName || f.syscall == kBpfReaderName)) ||
                             f.err == kNoStubErrno));
}

struct SecurebitsBatch::State {
  std::vector<SecurebitsRequest> reqs;
  bool continue_on_refusal = false;
  TracerJob job;
  int post_error = 0;  // -errno: the job could not be handed to a tracer
  bool unsupported = false;
  bool joined = false;
  bool completed = false;  // joined and the tracer answered (not killed first)
};

namespace {

template <typename T>
void Append(std::vector<char>* out, const T& v) {
  const char* p = reinterpret_cast<const char*>(&v);
  out->insert(out->end(), p, p + sizeof v);
}

std::vector<char> EncodeRequest(const std::vector<SecurebitsRequest>& reqs, bool continue_on_refusal) {
  std::vector<char> out;
  Append(&out, SbRequest{int32_t(reqs.size()), continue_on_refusal ? 1 : 0});
  for (const SecurebitsRequest& r : reqs) {
    Append(&out, SbItem{r.pid, r.test_delay_ms, int32_t(r.tids.size()), 0});
    for (int tid : r.tids) Append(&out, int32_t(tid));
  }
  return out;
}

size_t Align8(size_t n) { return (n + 7) & ~size_t(7); }

// The answer into results; false if it is not the shape of the request (which cannot happen).
bool DecodeAnswer(const std::vector<char>& answer, const std::vector<SecurebitsRequest>& reqs,
                  std::vector<SecurebitsResult>* results) {
  size_t off = 0;
  for (size_t i = 0; i < reqs.size(); i++) {
    SbResult r;
    if (answer.size() - off < sizeof r) return false;
    memcpy(&r, answer.data() + off, sizeof r);
    off += sizeof r;
    size_t n = reqs[i].tids.size();
    if (size_t(r.ntids) != n || answer.size() - off < Align8(n * sizeof(int32_t))) return false;
    SecurebitsResult& res = (*results)[i];
    res.values.resize(n);
    memcpy(res.values.data(), answer.data() + off, n * sizeof(int32_t));
    off += Align8(n * sizeof(int32_t));
    if (!r.done) continue;
    res.done = true;
    if (r.err) {
      res.failure.Errno(r.syscall ? r.syscall : "ptrace", r.err, r.tid ? r.tid : reqs[i].pid,
                        r.detail ? r.detail : "");
      res.values.assign(n, -1);
    }
  }
  return true;
}

}  // namespace

std::unique_ptr<SecurebitsBatch> SecurebitsBatch::Post(std::vector<SecurebitsRequest> reqs,
                                                       bool continue_on_refusal) {
  std::unique_ptr<SecurebitsBatch> batch(new SecurebitsBatch());
  batch->state_ = std::make_unique<State>();
  State& s = *batch->state_;
  s.reqs = std::move(reqs);
  s.continue_on_refusal = continue_on_refusal;
  if (s.reqs.empty()) {
    s.joined = s.completed = true;  // nothing to do
    return batch;
  }
  if (!RegsSupported()) {
    s.unsupported = s.joined = true;
    return batch;
  }
  // Found before the tracer's fork, which inherits it (no room: each process fails to say so).
  SecurebitsStubPrepare();
  s.job.handler = SecurebitsServe;
  s.job.request = EncodeRequest(s.reqs, continue_on_refusal);
  s.post_error = TracerPost(&s.job);
  if (s.post_error < 0) s.joined = true;
  return batch;
}

SecurebitsBatch::~SecurebitsBatch() {
  if (state_ && !state_->joined) TracerWait(&state_->job);
}

bool SecurebitsBatch::Ended() { return EndedWithin(0); }

bool SecurebitsBatch::EndedWithin(long long max_ns) {
  State& s = *state_;
  if (!s.joined) {
    int r = max_ns > 0 ? TracerPollSpinning(&s.job, max_ns) : TracerPoll(&s.job);
    if (r == 0) return false;
    s.completed = r > 0;
    s.joined = true;
  }
  return true;
}

void SecurebitsBatch::NotifyWhenDone(int fd) {
  State& s = *state_;
  if (s.joined) {
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof one);
    return;
  }
  TracerNotifyWhenDone(&s.job, fd);  // -errno: the end of the job is found by looking
}

void SecurebitsBatch::Finish(std::vector<SecurebitsResult>* results) {
  State& s = *state_;
  if (!s.joined) {
    s.completed = TracerWait(&s.job);
    s.joined = true;
  }
  results->clear();
  results->resize(s.reqs.size());
  for (size_t i = 0; i < s.reqs.size(); i++) (*results)[i].values.assign(s.reqs[i].tids.size(), -1);
  if (s.reqs.empty()) return;
  if (s.unsupported) {
    for (size_t i = 0; i < s.reqs.size(); i++) {
      (*results)[i].done = true;
      (*results)[i].failure.Coded("ERR_UNSUPPORTED_ARCH",
                                  "reading another task's securebits over ptrace: unsupported architecture",
                                  s.reqs[i].pid);
      if (!s.continue_on_refusal) break;
    }
    return;
  }
  if (s.post_error < 0) {
    (*results)[0].done = true;
    (*results)[0].failure.Errno("start the ptrace helper", -s.post_error, s.reqs[0].pid);
    return;
  }
  if (!s.completed || !DecodeAnswer(s.job.answer, s.reqs, results)) {
    for (auto& r : *results) r = SecurebitsResult();
    (*results)[0].done = true;
    (*results)[0].values.assign(s.reqs[0].tids.size(), -1);
    (*results)[0].failure.Errno("ptrace helper", EIO, s.reqs[0].pid, "the helper died");
  }
}

}  // namespace crc
