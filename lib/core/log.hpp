// The one console sink of lib/: what osteofm says while it works (log lines on stderr),
// what a verb prints as its result (stdout), and the progress drawn in place on a terminal.
// Nothing in lib/ writes to std::cout, std::cerr or stderr itself.
//
// On a terminal a log line reads "reproduce: tensor cache ..." or "osteofm: warning:
// explain: ..."; anywhere else (a Slurm log, a pipe, CI) each is one JSON object per line,
// {"level":"warning","source":"explain","message":"..."}, beside the progress records
// (core/progress.hpp) and the epoch records (train/callbacks.hpp). `osteofm --quiet` keeps
// warnings only (and no progress); `--verbose` adds debug lines; `--log-format` overrides the
// terminal test.
#pragma once
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace osteofm {

enum class LogLevel { debug = 0, info = 1, warning = 2 };
enum class LogFormat { automatic, text, json };

void set_log_level(LogLevel minimum);  // default: info
LogLevel log_level();
void set_log_format(LogFormat format);  // default: automatic (text on a terminal)
// The format log lines are written in now (automatic resolved).
LogFormat log_format();
// The global options that give a child process this process's level and format
// ("--quiet", "--verbose", "--log-format json"): a sweep's trainers log as their parent.
std::vector<std::string> log_options();

void log_line(LogLevel level, std::string_view source, std::string_view message);
inline void log_debug(std::string_view source, std::string_view message) { log_line(LogLevel::debug, source, message); }
inline void log_info(std::string_view source, std::string_view message) { log_line(LogLevel::info, source, message); }
inline void log_warning(std::string_view source, std::string_view message) {
  log_line(LogLevel::warning, source, message);
}

// The parts streamed into one message: log_info("sweep", log_text(name, " on GPU ", gpu)).
template <typename... Parts>
std::string log_text(const Parts&... parts) {
  std::ostringstream text;
  (text << ... << parts);
  return text.str();
}

// A verb's result on stdout (a table, "submitted job 123"), at every level.
void print_result(std::string_view text);
// Progress drawn in place or a structured record, on stderr as given; nothing under --quiet.
void write_progress(std::string_view text);
// Progress bars are drawn: stderr is a terminal, log lines are text, the level is not quiet
// (otherwise progress is written as JSON records, and not at all when quiet).
bool progress_drawn();

}  // namespace osteofm
