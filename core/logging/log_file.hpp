// The log file as uWSGI's --logto makes it: the process's stdout and stderr
// point at it, so trellis's own lines, the application's print() and
// tracebacks, and whatever a C extension writes all land in it. Each trellis
// line is one write(2) to the O_APPEND descriptor, so lines from concurrent
// workers never interleave.
#pragma once

#include <cstddef>
#include <string>

namespace trellis::log {

// Writes a whole formatted line with as few write(2) calls as the kernel
// allows (one, in practice): never interleaved with other processes' lines.
void write_line(int fd, const char* data, std::size_t size) noexcept;

// Opens `path` for appending (creating it) and makes it this process's
// stdout and stderr. false, with errno set, when it cannot be opened; the
// old descriptors are then left as they were.
bool point_stdio_at(const std::string& path) noexcept;

}  // namespace trellis::log
