#include "core/provenance.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "core/atomic_file.hpp"
#include "core/sha256.hpp"

namespace fs = std::filesystem;

namespace osteofm {

namespace {
struct ProcessState {
  std::mutex mu;
  std::string command_line;
  nlohmann::json facts = nlohmann::json::object();
  std::string started_at;
  std::map<std::string, std::pair<std::string, std::string>> hashes;  // path -> (size:mtime, sha256)
};
ProcessState& state() {
  static ProcessState s;
  return s;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string shell_word(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,@+") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The first "model name" of /proc/cpuinfo, and MemTotal of /proc/meminfo.
nlohmann::json host_facts() {
  nlohmann::json h;
  utsname u{};
  if (uname(&u) == 0) {
    h["os"] = std::string(u.sysname) + " " + u.release;
    h["machine"] = u.machine;
  }
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0) {
      h["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  h["hardware_threads"] = std::thread::hardware_concurrency();
  std::ifstream mem("/proc/meminfo");
  for (std::string key; mem >> key;) {
    long long kb = 0;
    mem >> kb;
    if (key == "MemTotal:") {
      h["memory_gib"] = static_cast<double>(kb) / (1024.0 * 1024.0);
      break;
    }
    std::string unit;
    std::getline(mem, unit);
  }
  return h;
}
}  // namespace

std::string osteofm_commit() {
  return
#include "core/build_commit.inc"
      ;
}

void set_command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) line += (i ? " " : "") + shell_word(argv[i]);
  std::lock_guard<std::mutex> lock(state().mu);
  state().command_line = line;
  state().started_at = utc_now();
}

void set_process_facts(const nlohmann::json& facts) {
  std::lock_guard<std::mutex> lock(state().mu);
  state().facts = facts;
}

std::string command_line() {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().command_line;
}

const char* dicom_windowing_policy() {
  return "DICOM: modality LUT (rescale slope/intercept or the Modality LUT Sequence), then the VOI LUT Sequence if "
         "present, else the first window (center/width), else the full range of the modality output; MONOCHROME1 "
         "inverted (bone bright); colour converted to grayscale";
}

nlohmann::json provenance_of_file(const ProvenanceInput& in) {
  nlohmann::json j = {{"role", in.role}, {"path", in.path}};
  std::error_code ec;
  if (!fs::is_regular_file(in.path, ec)) {
    j["missing"] = true;
    return j;
  }
  const auto size = fs::file_size(in.path, ec);
  const auto mtime = fs::last_write_time(in.path, ec).time_since_epoch().count();
  j["size"] = size;
  j["mtime"] = static_cast<long long>(mtime);
  if (!in.hash) return j;
  const std::string stamp = std::to_string(size) + ":" + std::to_string(mtime);
  {
    std::lock_guard<std::mutex> lock(state().mu);
    const auto it = state().hashes.find(in.path);
    if (it != state().hashes.end() && it->second.first == stamp) {
      j["sha256"] = it->second.second;
      return j;
    }
  }
  const std::string digest = sha256_file(in.path);
  {
    std::lock_guard<std::mutex> lock(state().mu);
    state().hashes[in.path] = {stamp, digest};
  }
  j["sha256"] = digest;
  return j;
}

nlohmann::json provenance_record(const std::vector<ProvenanceInput>& inputs, const nlohmann::json& extra) {
  nlohmann::json j;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    j["osteofm"] = {{"version", OSTEOFM_VERSION}, {"commit", osteofm_commit()}};
    j["command_line"] = state().command_line;
    j["started_at"] = state().started_at;
    j["libraries"] = state().facts;
  }
  j["written_at"] = utc_now();
  j["working_directory"] = fs::current_path().string();
  j["host"] = host_facts();
  j["inputs"] = nlohmann::json::array();
  for (const auto& in : inputs) j["inputs"].push_back(provenance_of_file(in));
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

std::string write_provenance(const std::string& dir, const std::vector<ProvenanceInput>& inputs,
                             const nlohmann::json& extra) {
  const std::string path = (fs::path(dir) / "provenance.json").string();
  write_file_atomic(path, provenance_record(inputs, extra).dump(2) + "\n");
  return path;
}

}  // namespace osteofm
