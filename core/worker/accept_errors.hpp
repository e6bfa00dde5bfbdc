// What a failed accept4() means, for both ways a worker accepts (its event
// loop, and the accept-lock thread), so that both treat it alike.
#pragma once

#include "worker/listener_ref.hpp"

namespace trellis::core {

// How long a worker out of descriptors or memory stops accepting (nginx's
// choice): the connection stays queued and the socket readable, so without
// a pause the worker would wake for it again at once, and again.
constexpr int kAcceptPauseMs = 500;

enum class AcceptOutcome {
  again,  // that connection is gone or the call was interrupted: try the next
  empty,  // nothing (more) to accept now
  pause,  // out of descriptors or memory: stop accepting for kAcceptPauseMs
  fatal,  // the listening socket itself is broken: the worker cannot go on
};

AcceptOutcome classify_accept_error(int err);

// Logs a pause (the reason and what to do about it).
void log_accept_pause(const Listener& listener, int err);

}  // namespace trellis::core
