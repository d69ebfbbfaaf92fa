// What makes a folder a run, and who may write in it: a run is a folder with a checkpoint
// (a folder holding only the config of a start that failed is not one); one process at a
// time trains in it, under an advisory lock that the kernel releases when the process
// dies, so a lock left by a crash never blocks a retry.
#pragma once
#include "core/atomic_file.hpp"
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace osteofm {

// True when `run` holds checkpoints/last.safetensors.
bool is_run(const std::filesystem::path& run);

class RunLock {
 public:
  // Takes RUN/.lock (creating RUN; removed again on release, a kill leaves a file that
  // locks nothing); InputError naming the holder's pid when another
  // process works there. `activity` says what the holder does ("training", "running a study").
  explicit RunLock(const std::filesystem::path& run, const std::string& activity = "training");
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

// remove_stale_temporaries: core/atomic_file.hpp.

// The config keys that make a run what it is: everything but runtime choices (the device).
nlohmann::json run_identity(nlohmann::json config);
// The first key path at which two configs differ ("" when equal), e.g. "train.lr_head".
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path = "");

// log.jsonl: one JSON line appended; a failed write (disk full) is a RuntimeFailure, never
// a silently lost line.
void append_json_line(const std::string& path, const nlohmann::json& line);
// On resume: keeps the lines of the epochs 1..epochs_done that the checkpoint holds (an
// epoch's line is written before its checkpoint, so a kill between the two leaves one
// line too many). The file is rewritten only when a line is dropped.
void truncate_log(const std::filesystem::path& path, int epochs_done);

}  // namespace osteofm
