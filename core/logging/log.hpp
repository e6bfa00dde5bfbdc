// The one logging registry: spdlog lives here, and plugins reach it only
// through Host::log(), so a process never has two registries.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace trellis::log {

// Plain stderr logging, usable before the configuration is known.
void init_early();

// Applies --logto and --log-level. Throws std::runtime_error on a bad value
// or a file that cannot be opened.
void configure(const std::string& logto, const std::string& level);

// Names the process in every line ("master", "worker 2", "loader").
void set_process_label(const std::string& label);

// SIGUSR1: reopen the log file after logrotate moved it.
void reopen();

// The file descriptor lines are written to (stderr when no --logto), so that
// daemonize can point stdout/stderr at it.
int output_fd();

}  // namespace trellis::log
