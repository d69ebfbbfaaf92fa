#include "core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

namespace osteofm {

namespace {

std::atomic<LogLevel> g_level{LogLevel::info};
std::atomic<LogFormat> g_format{LogFormat::automatic};
// One writer at a time: lines from the bootstrap's or a loader's threads never interleave.
std::mutex g_console;

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
  }
  return "info";
}

std::string text_line(LogLevel level, std::string_view source, std::string_view message) {
  // "osteofm: warning: explain: ...", "reproduce: ...", "osteofm: ..." (no source).
  std::string line = level == LogLevel::warning ? "osteofm: warning: " : "";
  if (!source.empty())
    line.append(source).append(": ");
  else if (level != LogLevel::warning)
    line += "osteofm: ";
  if (level == LogLevel::debug) line += "debug: ";
  line += message;
  return line;
}

std::string json_line(LogLevel level, std::string_view source, std::string_view message) {
  const nlohmann::json j = {{"level", level_name(level)}, {"source", source}, {"message", message}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_stderr(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

void set_log_level(LogLevel minimum) { g_level = minimum; }
LogLevel log_level() { return g_level.load(); }
void set_log_format(LogFormat format) { g_format = format; }

LogFormat log_format() {
  const LogFormat f = g_format.load();
  if (f != LogFormat::automatic) return f;
  return stderr_is_terminal() ? LogFormat::text : LogFormat::json;
}

std::vector<std::string> log_options() {
  std::vector<std::string> options;
  if (log_level() == LogLevel::warning) options.push_back("--quiet");
  if (log_level() == LogLevel::debug) options.push_back("--verbose");
  if (g_format.load() == LogFormat::text) options.insert(options.end(), {"--log-format", "text"});
  if (g_format.load() == LogFormat::json) options.insert(options.end(), {"--log-format", "json"});
  return options;
}

void log_line(LogLevel level, std::string_view source, std::string_view message) {
  if (level < log_level()) return;
  while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  const bool text = log_format() == LogFormat::text;
  // On a terminal the line first clears a progress bar drawn in place (the bar redraws).
  std::string line = text ? (stderr_is_terminal() ? "\r\033[K" : "") + text_line(level, source, message)
                          : json_line(level, source, message);
  line += '\n';
  std::lock_guard<std::mutex> lock(g_console);
  write_stderr(line);
}

void print_result(std::string_view text) {
  std::lock_guard<std::mutex> lock(g_console);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

bool progress_drawn() {
  return log_level() != LogLevel::warning && stderr_is_terminal() && log_format() == LogFormat::text;
}

void write_progress(std::string_view text) {
  if (log_level() == LogLevel::warning) return;
  std::lock_guard<std::mutex> lock(g_console);
  write_stderr(text);
}

}  // namespace osteofm
