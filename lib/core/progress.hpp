// A one-line progress bar on a terminal (stderr). When stderr is not a terminal (Slurm
// logs, pipes) it writes JSON lines instead, at most one every OSTEOFM_PROGRESS_SECONDS
// (default 30) so a long step shows it is alive without flooding the log; a step shorter
// than that writes nothing.
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
  // On a terminal: the summary drawn over the bar without ending the line, so the next
  // bar draws over it (one line for many steps); in a log, as finish.
  void finish_in_place(const std::string& summary);

 private:
  std::string label_;
  long total_;
  std::chrono::steady_clock::time_point start_, last_;
  bool on_;
  double json_every_ = 30;  // seconds between JSON lines (not a terminal)
  bool json_written_ = false;
  void json_line(long done, const std::string& extra, bool final);
};

}  // namespace osteofm
