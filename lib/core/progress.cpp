#include "core/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace osteofm {

bool ProgressBar::enabled() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, long total)
    : label_(std::move(label)), total_(total > 0 ? total : 1), start_(std::chrono::steady_clock::now()),
      last_(start_), on_(enabled()) {
  if (on_) last_ = start_ - std::chrono::seconds(1);
  if (const char* env = std::getenv("OSTEOFM_PROGRESS_SECONDS")) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end != env && v >= 0) json_every_ = v;
  }
}

void ProgressBar::json_line(long done, const std::string& extra, bool final) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? done / secs : 0;
  const nlohmann::json j = {{"progress", label_}, {"done", done}, {"total", total_}, {"seconds", secs},
                            {"per_s", rate}, {"eta_s", rate > 0 ? (total_ - done) / rate : 0.0},
                            {"final", final}, {"note", extra}};
  std::fprintf(stderr, "%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  std::fflush(stderr);
  json_written_ = true;
}

void ProgressBar::update(long done, const std::string& extra) {
  if (!on_) {
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && std::chrono::duration<double>(now - last_).count() >= json_every_) {
      last_ = now;
      json_line(done, extra, false);
    }
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;  // ~10 redraws a second
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? done / secs : 0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  const int width = 24, filled = static_cast<int>(width * done / total_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r\033[K%s [%s] %ld/%ld %.1f it/s ETA %.0fs %s", label_.c_str(), bar.c_str(), done, total_, rate,
               eta, extra.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish_in_place(const std::string& summary) {
  if (!on_) return finish(summary);
  std::fprintf(stderr, "\r\033[K%s %s", label_.c_str(), summary.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish(const std::string& summary) {
  if (!on_) {
    if (json_written_) json_line(total_, summary, true);  // closes what the log showed
    return;
  }
  std::fprintf(stderr, "\r\033[K%s %s\n", label_.c_str(), summary.c_str());
  std::fflush(stderr);
}

}  // namespace osteofm
