// Test helpers: where ../shared is, temporary folders, running the osteofm binary.
#pragma once
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace osteofm::test {
namespace fs = std::filesystem;

// ../shared beside the project, or $OSTEOFM_SHARED. The fixtures are not optional:
// a missing shared/ fails the test instead of skipping it.
inline std::string shared_dir() {
  const char* env = std::getenv("OSTEOFM_SHARED");
  fs::path p = env && *env ? fs::path(env) : fs::path(OSTEOFM_SOURCE_DIR) / ".." / "shared";
  p = p.lexically_normal();
  if (!fs::is_directory(p / "fixtures")) FAIL("shared/ not found at " << p.string() << " (set OSTEOFM_SHARED)");
  return p.string();
}
inline std::string shared(const std::string& rel) { return shared_dir() + "/" + rel; }
inline std::string source(const std::string& rel) { return std::string(OSTEOFM_SOURCE_DIR) + "/" + rel; }

// The 34 real radiographs (PNG, JPEG) of ../shared/data/public-cxr, sorted by path.
inline std::vector<std::string> public_radiographs() {
  std::vector<std::string> images;
  for (const char* dir : {"covid-chestxray-dataset/images", "nih-chestxray14", "hannover-covid19-repository/png"})
    for (const auto& e : fs::directory_iterator(shared(std::string("data/public-cxr/") + dir)))
      if (e.is_regular_file()) images.push_back(e.path().string());
  std::sort(images.begin(), images.end());
  return images;
}

// A train config for the tiny real-radiograph runs: dinov2-tiny, linear probe, one epoch.
inline std::string tiny_probe_config(const std::string& manifest) {
  return std::string("{\"data\": {\"manifest\": \"") + manifest +
         "\"}, \"backbone\": {\"preset\": \"dinov2-tiny\", \"seed\": 5}, \"strategy\": {\"name\": \"linear_probe\"}, "
         "\"train\": {\"epochs\": 1, \"batch_size\": 8, \"seed\": 2}}";
}

// A fresh folder per call, removed when the object goes away.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("osteofm_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The lines of `text`, without their newlines (no empty last line).
inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

struct CliResult {
  int code = -1;
  std::string out, err;
};
// Runs the built osteofm with a shell-quoted argument string.
inline CliResult run_osteofm(const std::string& args) {
  TempDir tmp;
  const std::string out = tmp / "stdout", err = tmp / "stderr";
  const std::string cmd = std::string("'") + OSTEOFM_BIN + "' " + args + " >'" + out + "' 2>'" + err + "' </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace osteofm::test
