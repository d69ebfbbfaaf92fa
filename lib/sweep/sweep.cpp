#include "sweep/sweep.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "io/manifest.hpp"
#include "train/config.hpp"
#include "train/run_model.hpp"
#include "data/cache_index.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
std::string quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}
bool finished(const fs::path& run) {
  std::error_code ec;
  if (!fs::exists(run / "status.json", ec)) return false;
  const json s = json::parse(read_file((run / "status.json").string()), nullptr, false);
  return !s.is_discarded() && s.value("state", "") == "done";
}
}  // namespace

namespace {
struct CommandOutput {
  int status = -1;  // exit code, or -1 when it did not exit normally
  std::string out;  // its standard output
};

// Runs argv[0] (looked up in PATH) with `argv`, no shell; its stdout captured, stderr
// passed through.
CommandOutput run_capturing_stdout(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe(fds) != 0) throw RuntimeFailure("cannot run " + args[0] + ": no pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  CommandOutput result;
  if (spawned != 0) {
    ::close(fds[0]);
    return result;  // not found or not runnable: status -1, no output
  }
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    result.out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}
}  // namespace

std::vector<std::string> sbatch_command(const SweepOptions& o, const std::string& script) {
  std::vector<std::string> argv = {"sbatch", "--parsable"};
  if (o.wait) argv.push_back("--wait");
  wordexp_t words{};
  // WRDE_NOCMD: a $(...) or `...` is refused, never run.
  const int rc = ::wordexp(o.sbatch_args.c_str(), &words, WRDE_NOCMD);
  if (rc != 0) {
    if (rc == WRDE_NOSPACE) ::wordfree(&words);
    const char* why = rc == WRDE_CMDSUB    ? "a command substitution is not allowed"
                      : rc == WRDE_BADCHAR ? "an unquoted ; | & < > ( ) { } or newline is not allowed"
                      : rc == WRDE_SYNTAX  ? "unbalanced quotes"
                                           : "cannot be split into words";
    throw InputError("--sbatch-args '" + o.sbatch_args + "': " + why + " (the words are passed to sbatch, no shell)");
  }
  for (size_t i = 0; i < words.we_wordc; ++i) argv.push_back(words.we_wordv[i]);
  ::wordfree(&words);
  argv.push_back(script);
  return argv;
}

std::vector<Variant> expand_sweep(const std::string& file) {
  json j = json::parse(read_file(file), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InputError(file + ": not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "base" && it.key() != "backbones" && it.key() != "strategies" && it.key() != "description")
      throw InputError(file + ": unknown sweep key '" + it.key() + "'");
  if (!j.contains("backbones") || !j["backbones"].is_object() || j["backbones"].empty())
    throw InputError(file + ": 'backbones' must be a non-empty object");
  if (!j.contains("strategies") || !j["strategies"].is_object() || j["strategies"].empty())
    throw InputError(file + ": 'strategies' must be a non-empty object");
  json base = j.value("base", json::object());
  // Paths in the sweep file resolve against its folder, now: the variant configs are
  // written elsewhere (SWEEP/configs/) and read from there.
  std::string dir = fs::path(file).parent_path().string();
  if (dir.empty()) dir = ".";
  // Variant names become folder names under --out: one path component, plain characters.
  for (const char* group : {"backbones", "strategies"})
    for (auto it = j[group].begin(); it != j[group].end(); ++it) {
      const std::string& n = it.key();
      const bool plain = !n.empty() && n != "." && n != ".." && std::all_of(n.begin(), n.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
      if (!plain)
        throw InputError(file + ": " + group + " name '" + n +
                         "' must be a single folder name (letters, digits, '.', '_', '-')");
    }
  std::vector<Variant> out;
  for (auto b = j["backbones"].begin(); b != j["backbones"].end(); ++b)
    for (auto s = j["strategies"].begin(); s != j["strategies"].end(); ++s) {
      Variant v;
      v.name = b.key() + "-" + s.key();
      v.config = base;
      v.config["backbone"] = b.value();
      v.config["strategy"] = s.value();
      v.config = absolute_paths(v.config, dir);
      // Validate now: a typo should fail before a 12-variant sweep starts.
      resolve_train_config_json(v.config, {}, file + " (" + v.name + ")", "");
      out.push_back(v);
    }
  return out;
}

std::vector<std::string> check_sweep(const std::vector<Variant>& variants, const std::string& file) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> manifest_problem;  // manifest path -> "" or its problem
  for (const auto& v : variants) {
    try {
      const json config = resolve_train_config_json(v.config, {}, file + " (" + v.name + ")", "");
      build_classifier(config);  // preset, arch, weights (names and shapes), strategy fields
      const std::string m = config["data"]["manifest"];
      if (!manifest_problem.count(m)) {
        std::string problem;
        try {
          const Manifest man = load_manifest(m);
          for (const auto& p : man.problems)
            if (p.error && problem.empty()) problem = p.message;
          if (problem.empty()) {
            size_t train = 0, val = 0;
            for (const auto& r : man.rows) {
              train += r.split == "train";
              val += r.split == "val";
            }
            if (train == 0 || val == 0)
              problem = m + ": needs train and val rows (make a split with 'osteofm data split')";
          }
        } catch (const InputError& e) {
          problem = e.what();
        }
        manifest_problem[m] = problem;
      }
      if (!manifest_problem[m].empty()) problems.push_back(v.name + ": " + manifest_problem[m]);
    } catch (const InputError& e) {
      problems.push_back(v.name + ": " + e.what());
    }
  }
  return problems;
}

namespace {
// The variants that failed in an earlier local run of this sweep (SWEEP/sweep.json).
std::set<std::string> earlier_failures(const fs::path& root) {
  std::set<std::string> failed;
  std::error_code ec;
  if (!fs::exists(root / "sweep.json", ec)) return failed;
  const json j = json::parse(read_file((root / "sweep.json").string()), nullptr, false);
  if (!j.is_discarded() && j.contains("failed") && j["failed"].is_array())
    for (const auto& f : j["failed"])
      if (f.is_string()) failed.insert(f.get<std::string>());
  return failed;
}

// Children die with the sweep: SIGTERM/SIGINT to the sweep is passed on to them, and each
// child asks the kernel for SIGTERM when its parent dies (even by SIGKILL).
std::map<pid_t, std::pair<size_t, std::string>>* g_running = nullptr;
void forward_signal(int sig) {
  if (g_running)
    for (const auto& [pid, v] : *g_running) ::kill(pid, SIGTERM);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
}  // namespace

int run_sweep(const std::string& file, const std::string& sweep_dir, const SweepOptions& o) {
  const auto variants = expand_sweep(file);
  // Every variant resolved before any starts: twelve identical errors become one list.
  const auto problems = check_sweep(variants, file);
  if (!problems.empty()) {
    for (const auto& p : problems) std::cerr << "osteofm: sweep: " << p << "\n";
    throw InputError(file + ": " + std::to_string(problems.size()) + " of " + std::to_string(variants.size()) +
                     " variants cannot start (listed above); nothing was run");
  }
  const fs::path root(sweep_dir);
  // Split (and bad --sbatch-args refused) before anything is written.
  const std::string script_path = (fs::absolute(root) / "slurm" / "array.sh").string();
  const std::vector<std::string> sbatch_argv =
      o.executor == "slurm" ? sbatch_command(o, script_path) : std::vector<std::string>();
  fs::create_directories(root / "configs");
  std::set<std::string> failed_before = earlier_failures(root);
  json manifest = {{"config", fs::absolute(file).string()}, {"executor", o.executor}, {"variants", json::array()}};
  for (const auto& v : variants) {
    write_file_atomic((root / "configs" / (v.name + ".json")).string(), v.config.dump(2) + "\n");
    manifest["variants"].push_back(v.name);
  }
  auto write_manifest = [&](const std::set<std::string>& failed) {
    manifest["failed"] = json::array();
    for (const auto& f : failed) manifest["failed"].push_back(f);
    write_file_atomic((root / "sweep.json").string(), manifest.dump(2) + "\n");
  };
  write_manifest(o.resume ? std::set<std::string>{} : failed_before);
  auto train_argv = [&](const Variant& v, const std::string& device) {
    const fs::path run = root / v.name;
    std::vector<std::string> argv = {o.binary, "train", "--config", (root / "configs" / (v.name + ".json")).string(),
                                     "--out", run.string()};
    if (fs::exists(run / "checkpoints" / "last.safetensors")) argv.push_back("--resume");
    if (!device.empty()) argv.insert(argv.end(), {"--set", "train.device=" + device});
    return argv;
  };

  if (o.executor == "slurm") {
    std::string script = "#!/bin/bash\n#SBATCH --job-name=osteofm-sweep\n#SBATCH --array=0-" +
                         std::to_string(variants.size() - 1) + "\n#SBATCH --output=" +
                         (fs::absolute(root) / "slurm" / "%A_%a.log").string() + "\nset -euo pipefail\nvariants=(";
    for (const auto& v : variants) script += " " + v.name;
    script += " )\nv=${variants[$SLURM_ARRAY_TASK_ID]}\nrun=" + quote(fs::absolute(root).string()) + "/$v\n";
    script += "resume=''\n[[ -f \"$run/checkpoints/last.safetensors\" ]] && resume=--resume\n";
    script += "exec " + quote(fs::absolute(o.binary).string()) + " train --config " +
              quote(fs::absolute(root / "configs").string()) + "/$v.json --out \"$run\" $resume\n";
    fs::create_directories(root / "slurm");
    write_file_atomic(script_path, script);
    const CommandOutput sbatch = run_capturing_stdout(sbatch_argv);
    std::string out = sbatch.out;
    const int status = sbatch.status;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    if (status != 0 && out.empty()) throw RuntimeFailure("sbatch failed (is Slurm installed and running?)");
    std::cout << "submitted job array " << out << " (" << variants.size() << " tasks); logs in " << (root / "slurm").string()
              << "; collect with: osteofm table " << sweep_dir << "\n";
    return (o.wait && status != 0) ? 1 : 0;
  }
  if (o.executor != "local") throw InputError("--executor must be local or slurm, not '" + o.executor + "'");

  // Local: one child process per variant; as many at once as GPUs listed (else one).
  std::vector<const Variant*> todo;
  std::set<std::string> failed_now;
  int failures = 0;
  for (const auto& v : variants) {
    if (finished(root / v.name)) {
      std::cerr << "sweep: " << v.name << " already done, skipped\n";
      continue;
    }
    if (!o.resume && failed_before.count(v.name)) {
      std::cerr << "sweep: " << v.name << " failed in an earlier run, not retried (rerun with --resume to retry it)\n";
      failed_now.insert(v.name);
      ++failures;
      continue;
    }
    todo.push_back(&v);
  }
  const size_t slots = std::max<size_t>(1, o.gpus.size());
  std::map<pid_t, std::pair<size_t, std::string>> running;  // pid -> slot, variant
  g_running = &running;
  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  std::vector<bool> busy(slots, false);
  size_t next = 0;
  const pid_t sweep_pid = ::getpid();
  while (next < todo.size() || !running.empty()) {
    while (next < todo.size() && running.size() < slots) {
      size_t slot = 0;
      while (busy[slot]) ++slot;
      const Variant& v = *todo[next++];
      const std::vector<std::string> args = train_argv(v, o.gpus.empty() ? "" : "cuda:" + o.gpus[slot]);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      std::cerr << "sweep: " << v.name << (o.gpus.empty() ? "" : " on GPU " + o.gpus[slot]) << "\n";
      const pid_t pid = fork();
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != sweep_pid) _exit(143);  // the sweep died before prctl took effect
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::execv(argv[0], argv.data());
        _exit(127);
      }
      if (pid < 0) throw RuntimeFailure("sweep: cannot start a process");
      busy[slot] = true;
      running[pid] = {slot, v.name};
    }
    int status = 0;
    const pid_t done = waitpid(-1, &status, 0);
    if (done < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = running.find(done);
    if (it == running.end()) continue;
    busy[it->second.first] = false;
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      ++failures;
      failed_now.insert(it->second.second);
      std::cerr << "sweep: " << it->second.second << " failed (see its log above); rerun the sweep with --resume to "
                << "retry it\n";
    }
    running.erase(it);
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  g_running = nullptr;
  write_manifest(failed_now);
  return failures;
}

}  // namespace osteofm
