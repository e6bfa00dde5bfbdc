// Exit codes a worker or loader uses to tell the master why it ended. The
// master logs each one in words and decides whether to start another.
#pragma once

namespace trellis::core {

// The application could not be loaded: starting another is pointless, so
// the master stops (or, during a reload, keeps the previous generation).
constexpr int kExitAppLoadFailed = 22;
// A system call failed and the process could not go on safely; it logged
// what failed. The master replaces it.
constexpr int kExitSystemError = 23;
// An unexpected C++ exception reached the top of the process; it was
// logged. The master replaces it.
constexpr int kExitInternalError = 24;

}  // namespace trellis::core
