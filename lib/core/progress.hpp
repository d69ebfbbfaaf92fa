// A one-line progress bar on a terminal (stderr); silent when stderr is not a TTY, where
// the caller's structured log lines are the record instead.
#pragma once
#include <chrono>
#include <string>

namespace osteofm {

class ProgressBar {
 public:
  ProgressBar(std::string label, long total);
  static bool enabled();  // stderr is a terminal
  // done of total, with e.g. "loss 0.93" after the rate and ETA.
  void update(long done, const std::string& extra = "");
  void finish(const std::string& summary);  // ends the line

 private:
  std::string label_;
  long total_;
  std::chrono::steady_clock::time_point start_, last_;
  bool on_;
};

}  // namespace osteofm
