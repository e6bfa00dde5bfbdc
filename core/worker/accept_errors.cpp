#include "worker/accept_errors.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace trellis::core {

AcceptOutcome classify_accept_error(int err) {
  switch (err) {
    case EAGAIN:
      return AcceptOutcome::empty;
    case EINTR:
    case ECONNABORTED:  // the client gave up while queued
    case EPROTO:
    case EPERM:         // a firewall rule refused it
    // Errors of the new connection, which accept(2) says to treat as EAGAIN.
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return AcceptOutcome::again;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return AcceptOutcome::pause;
    default:
      return AcceptOutcome::fatal;
  }
}

void log_accept_pause(const Listener& listener, int err) {
  bool descriptors = err == EMFILE || err == ENFILE;
  spdlog::error("cannot accept on {}: {}; not accepting for {} ms{}", listener.socket->address.text,
                std::strerror(err), kAcceptPauseMs,
                descriptors ? " (raise the open files limit: ulimit -n, systemd LimitNOFILE)" : "");
}

}  // namespace trellis::core
