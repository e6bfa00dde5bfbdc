#include "logging/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <spdlog/sinks/base_sink.h>

#include "logging/log_file.hpp"

namespace trellis::log {

namespace {
// Every line goes to stderr in one write, so workers sharing the terminal,
// a pipe or the --logto file (which stderr then is) never garble each
// other's lines.
std::shared_ptr<spdlog::sinks::sink> g_sink;
std::string g_label = "trellis";
std::string g_path;  // --logto, reopened on SIGUSR1

class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    write_line(STDERR_FILENO, line.data(), line.size());
  }
  void flush_() override {}
};

constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e %L [%n %P] %v";

void install(spdlog::level::level_enum level) {
  auto logger = std::make_shared<spdlog::logger>(g_label, g_sink);
  logger->set_pattern(kPattern);
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}
}  // namespace

void init_early() {
  g_sink = std::make_shared<StderrSink>();
  install(spdlog::level::info);
}

void configure(const std::string& logto, const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    throw std::runtime_error("invalid --log-level '" + level + "': use trace, debug, info, warn, error, critical or off");
  if (!logto.empty()) {
    if (!point_stdio_at(logto)) throw std::runtime_error("cannot open log file " + logto + ": " + std::strerror(errno));
    g_path = logto;
  }
  install(lvl);
}

void set_process_label(const std::string& label) {
  g_label = label;
  install(spdlog::default_logger()->level());
}

void reopen() {
  // A file that cannot be opened now: keep writing to the old one rather
  // than lose lines, and say so there.
  if (!g_path.empty() && !point_stdio_at(g_path))
    spdlog::error("cannot reopen the log file {}: {}; still writing to the one open before", g_path,
                  std::strerror(errno));
}

int output_fd() { return STDERR_FILENO; }

}  // namespace trellis::log
