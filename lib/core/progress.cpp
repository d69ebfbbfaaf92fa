#include "core/progress.hpp"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/log.hpp"

namespace osteofm {

bool ProgressBar::enabled() { return progress_drawn(); }

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
  write_progress(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
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
  char counts[160];
  std::snprintf(counts, sizeof counts, "] %ld/%ld %.1f it/s ETA %.0fs ", done, total_, rate, eta);
  write_progress("\r\033[K" + label_ + " [" + bar + counts + extra);
}

void ProgressBar::finish_in_place(const std::string& summary) {
  if (!on_) return finish(summary);
  write_progress("\r\033[K" + label_ + " " + summary);
}

void ProgressBar::finish(const std::string& summary) {
  if (!on_) {
    if (json_written_) json_line(total_, summary, true);  // closes what the log showed
    return;
  }
  write_progress("\r\033[K" + label_ + " " + summary + "\n");
}

}  // namespace osteofm
