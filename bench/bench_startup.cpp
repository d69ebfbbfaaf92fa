// Start-up of the torch-free verbs: the same command through `osteofm` (the launcher, which
// runs eval, compare, table and report without loading LibTorch) and through osteofm-torch
// (every verb, LibTorch, OpenCV and DCMTK loaded: what every verb cost before), in the
// same run. Prints one JSON line per command: median wall milliseconds of each, the ratio,
// and how much longer a verb the launcher hands on (synth --help) takes through it.
//
//   osteofm_bench_startup BUILD_DIR [--repeats 15]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

// Wall time of one run, stdout and stderr discarded; -1 when it did not exit 0.
double run_ms(const std::vector<std::string>& command) {
  std::fflush(stdout);  // else the child's freopen writes the parent's pending lines again
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    std::vector<char*> argv;
    for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1;
}

double median_ms(const std::vector<std::string>& command, int repeats) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const double ms = run_ms(command);
    if (ms < 0) return -1;
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// 60 images of 30 patients, 2 per patient, scores that separate the classes.
void write_predictions(const fs::path& path, const std::string& prefix) {
  std::ofstream out(path);
  out << "image_id,patient_id,label,p_normal,p_osteopenia,p_osteoporosis\n";
  for (int i = 0; i < 60; ++i) {
    const int y = i % 3;
    const double hit = 0.5 + 0.005 * (i % 7), other = (1.0 - hit) / 2;
    double p[3] = {other, other, other};
    p[y] = hit;
    out << prefix << "img" << i << "," << prefix << "pat" << i / 2 << "," << y << "," << p[0] << "," << p[1] << ","
        << 1.0 - p[0] - p[1] << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: osteofm_bench_startup BUILD_DIR [--repeats 15]\n");
    return 2;
  }
  const fs::path build = fs::absolute(argv[1]);
  int repeats = 15;
  if (argc >= 4 && std::string(argv[2]) == "--repeats") repeats = std::max(1, std::stoi(argv[3]));
  const std::string launcher = (build / "osteofm").string(), torch = (build / "osteofm-torch").string();
  const fs::path work = fs::temp_directory_path() / ("osteofm_bench_startup_" + std::to_string(getpid()));
  fs::create_directories(work);
  write_predictions(work / "test.csv", "t");
  write_predictions(work / "val.csv", "v");
  const std::string out = (work / "metrics.json").string();

  struct Case {
    std::string name;
    std::vector<std::string> args;
  };
  const std::vector<Case> cases = {
      {"eval --help (start-up alone)", {"eval", "--help"}},
      {"eval, 60 images, 200 replicates, with figures",
       {"eval", "--predictions", (work / "test.csv").string(), "--val", (work / "val.csv").string(), "--out", out,
        "--bootstrap", "200"}},
      {"synth --help (handed on to osteofm-torch)", {"synth", "--help"}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> via_launcher = {launcher}, via_torch = {torch};
    via_launcher.insert(via_launcher.end(), c.args.begin(), c.args.end());
    via_torch.insert(via_torch.end(), c.args.begin(), c.args.end());
    const double torch_ms = median_ms(via_torch, repeats), launcher_ms = median_ms(via_launcher, repeats);
    nlohmann::json line = {{"bench", "startup"},          {"command", c.name},
                           {"repeats", repeats},          {"osteofm_torch_ms", torch_ms},
                           {"osteofm_ms", launcher_ms},   {"speedup", launcher_ms > 0 ? torch_ms / launcher_ms : 0.0}};
    std::printf("%s\n", line.dump().c_str());
  }
  fs::remove_all(work);
  return 0;
}
