// The one logging registry: spdlog lives here, and plugins reach it only
// through Host::log(), so a process never has two registries.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace trellis::log {

// Plain stderr logging, usable before the configuration is known.
void init_early();

// Applies --logto and --log-level. --logto makes the file this process's
// stdout and stderr (inherited by every process it forks), as uWSGI does.
// Throws std::runtime_error on a bad value or a file that cannot be opened.
void configure(const std::string& logto, const std::string& level);

// Names the process in every line ("master", "worker 2", "loader").
void set_process_label(const std::string& label);

// SIGUSR1: reopen the log file after logrotate moved it (a new worker calls
// it too, since it may be forked by a loader that predates the rotation).
void reopen();

// The descriptor log lines are written to: stderr, which --logto points at
// the file.
int output_fd();

}  // namespace trellis::log
