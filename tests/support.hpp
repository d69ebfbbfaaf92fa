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

// A page rendered by headless Chromium (Debian's `chromium`, installed by
// scripts/setup.sh --with-test-deps): its console messages, the URLs it asked the network
// for (Chromium's own update, time and account services left out: they are the browser's,
// not the page's; every host resolves to nothing, so no request leaves the machine), and
// a screenshot.
struct BrowserRender {
  int code = -1;
  std::vector<std::string> console, requests;
  std::string log;
};
inline BrowserRender render_in_chromium(const std::string& html, const std::string& screenshot, int width = 1000,
                                        int height = 1800) {
  TempDir tmp;
  const std::string log = tmp / "chromium.log", net = tmp / "net.json";
  const std::string cmd =
      "chromium --headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking "
      "--disable-component-update --disable-sync --disable-default-apps --disable-extensions "
      "--disable-domain-reliability --disable-features=Translate,OptimizationHints,MediaRouter,SpellCheck "
      "'--host-resolver-rules=MAP * ~NOTFOUND' --user-data-dir='" + (tmp / "profile") +
      "' --enable-logging=stderr --v=0 --log-net-log='" + net + "' --hide-scrollbars --window-size=" +
      std::to_string(width) + "," + std::to_string(height) + " --screenshot='" + screenshot + "' 'file://" + html +
      "' >'" + log + "' 2>&1 </dev/null";
  BrowserRender r;
  const int status = std::system(("timeout 120 " + cmd).c_str());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.log = read_text(log);
  for (const auto& line : split_lines(r.log))
    if (line.find(":CONSOLE") != std::string::npos) r.console.push_back(line);
  const std::string netlog = read_text(net);
  for (size_t at = netlog.find("\"url\":\""); at != std::string::npos; at = netlog.find("\"url\":\"", at + 1)) {
    const size_t start = at + 7, end = netlog.find('"', start);
    const std::string url = netlog.substr(start, end - start);
    const bool browser_own = url.find(".google.com/") != std::string::npos ||
                             url.find(".googleapis.com/") != std::string::npos ||
                             url.find(".gvt1.com/") != std::string::npos || url.find(".gstatic.com/") != std::string::npos;
    if (url.rfind("file:", 0) != 0 && url.rfind("data:", 0) != 0 && !browser_own &&
        std::find(r.requests.begin(), r.requests.end(), url) == r.requests.end())
      r.requests.push_back(url);  // one URL is several events of the log
  }
  return r;
}

}  // namespace osteofm::test
