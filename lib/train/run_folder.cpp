#include "train/run_folder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "train/config.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/layout.hpp"

namespace osteofm {
namespace fs = std::filesystem;

bool is_run(const fs::path& run) {
  std::error_code ec;
  return fs::exists(run / layout::kCheckpoints / layout::kLastCheckpoint, ec);
}

RunLock::RunLock(const fs::path& run, const std::string& activity) {
  std::error_code ec;
  fs::create_directories(run, ec);
  path_ = (run / ".lock").string();
  // The holder removes the file when it lets go, so a lock taken on a file that another
  // process has just removed would be no lock: it is taken again until the locked file is
  // the one the folder names.
  for (int attempt = 0;; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw RuntimeFailure(path_ + ": cannot open the run lock: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char buf[32] = {0};
      const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
      ::close(fd_);
      fd_ = -1;
      const std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
      throw InputError(run.string() + ": another osteofm process (pid " + holder.substr(0, holder.find('\n')) +
                       ") is " + activity + " in this folder; wait for it to finish or stop it, then rerun");
    }
    struct stat held {}, named {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev)
      break;
    ::close(fd_);
    fd_ = -1;
    if (attempt > 100) throw RuntimeFailure(path_ + ": the run lock keeps changing; is another process racing here?");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    throw RuntimeFailure(path_ + ": cannot write the run lock: " + std::strerror(errno));
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still held: nobody can have taken it in between
  ::close(fd_);             // releases the flock
}

nlohmann::json run_identity(nlohmann::json config) {
  // Keys added since an older run was written read as their default, so it still resumes.
  config = with_default_keys(config);
  if (config.contains("train") && config["train"].is_object()) config["train"].erase("device");
  return config;
}

std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      const std::string p = path.empty() ? k : path + "." + k;
      if (!b.contains(k)) return p;
      const std::string d = first_difference(v, b[k], p);
      if (!d.empty()) return d;
    }
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) return path.empty() ? k : path + "." + k;
    return "";
  }
  return a == b ? "" : (path.empty() ? "(the whole config)" : path);
}

void append_json_line(const std::string& path, const nlohmann::json& line) {
  std::ofstream out(path, std::ios::app);
  out << line.dump() << "\n";
  out.flush();
  if (!out) throw RuntimeFailure(path + ": cannot append the epoch's line (disk full?)");
}

void truncate_log(const fs::path& path, int epochs_done) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  std::string kept;
  bool dropped = false;
  std::istringstream in(read_file(path.string()));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    const bool keep = !j.is_discarded() && j.contains("epoch") && j["epoch"].is_number_integer() &&
                      j["epoch"].get<int>() <= epochs_done;
    if (keep) kept += line + "\n";
    else dropped = true;
  }
  if (dropped) write_file_atomic(path.string(), kept);
}

}  // namespace osteofm
