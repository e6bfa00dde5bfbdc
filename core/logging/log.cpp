#include "logging/log.hpp"

#include <unistd.h>

#include <memory>
#include <stdexcept>

#include "logging/appending_file_sink.hpp"

namespace trellis::log {

namespace {
// stderr gets the same one-write-per-line treatment as files, so workers
// sharing the terminal or a pipe never garble each other's lines.
std::shared_ptr<AppendingFileSink> g_file_sink;
std::shared_ptr<spdlog::sinks::sink> g_sink;
std::string g_label = "trellis";
int g_fd = STDERR_FILENO;

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
    g_file_sink = std::make_shared<AppendingFileSink>(logto);
    g_sink = g_file_sink;
    g_fd = g_file_sink->fd();
  }
  install(lvl);
}

void set_process_label(const std::string& label) {
  g_label = label;
  install(spdlog::default_logger()->level());
}

void reopen() {
  if (g_file_sink) g_file_sink->reopen();
}

int output_fd() { return g_fd; }

}  // namespace trellis::log
