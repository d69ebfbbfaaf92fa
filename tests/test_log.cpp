// core/log: the one console sink of lib/ (levels, text on a terminal, JSON lines elsewhere,
// one writer at a time).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;

namespace {

// stderr (or stdout) redirected to a file while `body` runs; what was written there.
template <typename F>
std::string captured(int fd, F&& body) {
  TempDir dir;
  const std::string path = dir / "captured";
  std::fflush(fd == STDERR_FILENO ? stderr : stdout);
  const int saved = dup(fd);
  const int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(file, fd);
  close(file);
  body();
  std::fflush(fd == STDERR_FILENO ? stderr : stdout);
  dup2(saved, fd);
  close(saved);
  return read_text(path);
}

// The sink's settings back to their defaults, whatever a case did.
struct LogSettings {
  ~LogSettings() {
    set_log_level(LogLevel::info);
    set_log_format(LogFormat::automatic);
  }
};

}  // namespace

TEST_CASE("log: text lines read as before, JSON lines carry level, source and message", "[log]") {
  LogSettings restore;
  set_log_format(LogFormat::text);
  const std::string text = captured(STDERR_FILENO, [] {
    log_warning("explain", "no Δbone: no masks");
    log_info("reproduce", "tensor cache ...\n");  // a trailing newline is the sink's to add
    log_info("", "starting afresh");
    log_debug("sweep", "not shown at the info level");
  });
  CHECK(text == "osteofm: warning: explain: no Δbone: no masks\nreproduce: tensor cache ...\nosteofm: starting afresh\n");

  set_log_format(LogFormat::json);
  const std::string json_text = captured(STDERR_FILENO, [] {
    log_warning("explain", "a \"quoted\" word\nand a second line");
    log_info("reproduce", "stage");
  });
  const auto lines = split_lines(json_text);
  REQUIRE(lines.size() == 2);
  const auto first = nlohmann::json::parse(lines[0]);
  CHECK(first == nlohmann::json{{"level", "warning"}, {"source", "explain"}, {"message", "a \"quoted\" word\nand a second line"}});
  CHECK(nlohmann::json::parse(lines[1])["level"] == "info");
}

TEST_CASE("log: --quiet keeps warnings and drops progress, --verbose adds debug, children get the same", "[log]") {
  LogSettings restore;
  set_log_format(LogFormat::text);
  set_log_level(LogLevel::warning);
  CHECK(log_options() == std::vector<std::string>{"--quiet", "--log-format", "text"});
  const std::string quiet = captured(STDERR_FILENO, [] {
    log_info("reproduce", "dropped");
    write_progress("{\"progress\":\"dropped\"}\n");
    log_warning("sweep", "kept");
  });
  CHECK(quiet == "osteofm: warning: sweep: kept\n");
  CHECK_FALSE(progress_drawn());

  set_log_level(LogLevel::debug);
  set_log_format(LogFormat::automatic);
  CHECK(log_options() == std::vector<std::string>{"--verbose"});
  set_log_format(LogFormat::text);
  CHECK(captured(STDERR_FILENO, [] { log_debug("sweep", "shown"); }) == "sweep: debug: shown\n");

  set_log_level(LogLevel::info);
  set_log_format(LogFormat::automatic);
  CHECK(log_options().empty());  // the default passes nothing on: scripts read as before
  CHECK(captured(STDOUT_FILENO, [] { print_result("submitted job 7\n"); }) == "submitted job 7\n");
}

TEST_CASE("log: lines from many threads never interleave", "[log]") {
  LogSettings restore;
  set_log_format(LogFormat::json);
  const std::string text = captured(STDERR_FILENO, [] {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([t] {
        for (int i = 0; i < 200; ++i) log_info("bootstrap", std::string(100, static_cast<char>('a' + t)));
      });
    for (auto& th : threads) th.join();
  });
  const auto lines = split_lines(text);
  REQUIRE(lines.size() == 800);
  for (const auto& line : lines) {
    const auto j = nlohmann::json::parse(line);  // throws on a torn line
    const std::string m = j["message"];
    REQUIRE(m == std::string(100, m[0]));
  }
}
