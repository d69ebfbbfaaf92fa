#include "core/layout.hpp"
#include "core/provenance.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/atomic_file.hpp"
#include "core/sha256.hpp"

namespace fs = std::filesystem;

namespace osteofm {

namespace {
struct ProcessState {
  std::mutex mu;
  std::string command_line;
  std::function<nlohmann::json()> gather_facts;
  std::optional<nlohmann::json> facts;  // gathered once, when first needed
  std::string started_at;
  std::map<std::string, std::pair<FileStamp, std::string>> hashes;  // path -> (the file then, its sha256)
};
ProcessState& state() {
  static ProcessState s;
  return s;
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

std::string utc_timestamp() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

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
  state().started_at = utc_timestamp();
}

void set_process_facts(std::function<nlohmann::json()> gather) {
  std::lock_guard<std::mutex> lock(state().mu);
  state().gather_facts = std::move(gather);
  state().facts.reset();
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
  const FileStamp file = file_stamp(in.path);
  if (!fs::is_regular_file(in.path, ec) || !file.exists) {
    j["missing"] = true;
    return j;
  }
  j["size"] = file.size;
  j["mtime"] = file.mtime;
  if (!in.hash) return j;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    const auto it = state().hashes.find(in.path);
    if (it != state().hashes.end() && it->second.first == file) {
      j["sha256"] = it->second.second;
      return j;
    }
  }
  const std::string digest = sha256_file(in.path);
  {
    std::lock_guard<std::mutex> lock(state().mu);
    state().hashes[in.path] = {file, digest};
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
    if (!state().facts) state().facts = state().gather_facts ? state().gather_facts() : nlohmann::json::object();
    j["libraries"] = *state().facts;
  }
  j["written_at"] = utc_timestamp();
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
  const std::string path = (fs::path(dir) / layout::kProvenance).string();
  write_file_atomic(path, provenance_record(inputs, extra).dump(2) + "\n");
  return path;
}

}  // namespace osteofm
