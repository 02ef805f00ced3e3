// Waiting for the tracer (tracer.h) on a JS thread's event loop rather than on a pool thread:
// the tracer adds to the env's eventfd once it has answered a job it was asked to notify
// (TracerNotifyWhenDone). A checkpoint of a few
// processes then hands off between threads twice (to the tracer and back), not four times
// (to a pool thread, which hands to the tracer, waits for it, then wakes the JS thread): each
// wake of a sleeping thread costs about as much as the ptrace work itself on a machine whose
// idle CPUs halt (15-45 us on ours).
#pragma once
#include <napi.h>

#include <functional>

namespace crc {

// The env's notifier (for TracerNotifyWhenDone): opened on first use, closed with the env.
// Returns -errno when it cannot be opened.
int TracerNotifyFd(Napi::Env env);

// Calls then(env) on env's JS thread once ended() is true (in a callback scope: a promise it
// settles runs its reactions): when the tracer next signals the env's notifier, or at the
// latest at the next look (every 50 ms while anything waits), for a tracer killed mid-job,
// which signals nothing. The caller has looked already (an answer there needs no wait) and
// asked for the notice (an answer that comes meanwhile is followed by it). then() must not
// throw. Dropped (neither called) if the env ends first.
void WhenTracerDone(Napi::Env env, std::function<bool()> ended, std::function<void(Napi::Env)> then);

}  // namespace crc
