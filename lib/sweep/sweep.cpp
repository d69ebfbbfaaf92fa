#include "sweep/sweep.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "train/config.hpp"

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
  const std::string dir = fs::path(file).parent_path().string();
  if (base.contains("data") && base["data"].contains("manifest")) {
    const std::string m = base["data"]["manifest"];
    // Absolute: the variant configs are written elsewhere (SWEEP/configs/) and read from there.
    if (!m.empty() && fs::path(m).is_relative())
      base["data"]["manifest"] = fs::absolute(fs::path(dir) / m).lexically_normal().string();
  }
  std::vector<Variant> out;
  for (auto b = j["backbones"].begin(); b != j["backbones"].end(); ++b)
    for (auto s = j["strategies"].begin(); s != j["strategies"].end(); ++s) {
      Variant v;
      v.name = b.key() + "-" + s.key();
      v.config = base;
      v.config["backbone"] = b.value();
      v.config["strategy"] = s.value();
      // Validate now: a typo should fail before a 12-variant sweep starts.
      resolve_train_config_json(v.config, {}, file + " (" + v.name + ")", "");
      out.push_back(v);
    }
  return out;
}

int run_sweep(const std::string& file, const std::string& sweep_dir, const SweepOptions& o) {
  const auto variants = expand_sweep(file);
  const fs::path root(sweep_dir);
  fs::create_directories(root / "configs");
  json manifest = {{"config", fs::absolute(file).string()}, {"executor", o.executor}, {"variants", json::array()}};
  for (const auto& v : variants) {
    write_file_atomic((root / "configs" / (v.name + ".json")).string(), v.config.dump(2) + "\n");
    manifest["variants"].push_back(v.name);
  }
  write_file_atomic((root / "sweep.json").string(), manifest.dump(2) + "\n");
  auto train_command = [&](const Variant& v, const std::string& device) {
    const fs::path run = root / v.name;
    std::string cmd = quote(o.binary) + " train --config " + quote((root / "configs" / (v.name + ".json")).string()) +
                      " --out " + quote(run.string());
    if (fs::exists(run / "config.json")) cmd += " --resume";
    if (!device.empty()) cmd += " --set train.device=" + device;
    return cmd;
  };

  if (o.executor == "slurm") {
    std::string script = "#!/bin/bash\n#SBATCH --job-name=osteofm-sweep\n#SBATCH --array=0-" +
                         std::to_string(variants.size() - 1) + "\n#SBATCH --output=" +
                         (fs::absolute(root) / "slurm" / "%A_%a.log").string() + "\nset -euo pipefail\nvariants=(";
    for (const auto& v : variants) script += " " + v.name;
    script += " )\nv=${variants[$SLURM_ARRAY_TASK_ID]}\nrun=" + quote(fs::absolute(root).string()) + "/$v\n";
    script += "resume=''\n[[ -f \"$run/config.json\" ]] && resume=--resume\n";
    script += "exec " + quote(fs::absolute(o.binary).string()) + " train --config " +
              quote(fs::absolute(root / "configs").string()) + "/$v.json --out \"$run\" $resume\n";
    fs::create_directories(root / "slurm");
    const std::string script_path = (fs::absolute(root) / "slurm" / "array.sh").string();
    write_file_atomic(script_path, script);
    const std::string cmd = "sbatch --parsable " + std::string(o.wait ? "--wait " : "") + o.sbatch_args + " " + quote(script_path);
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) throw RuntimeFailure("cannot run sbatch");
    char buf[256] = {0};
    std::string out;
    while (fgets(buf, sizeof buf, p)) out += buf;
    const int status = pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    if (status != 0 && out.empty()) throw RuntimeFailure("sbatch failed (is Slurm installed and running?)");
    std::cout << "submitted job array " << out << " (" << variants.size() << " tasks); logs in " << (root / "slurm").string()
              << "; collect with: osteofm table " << sweep_dir << "\n";
    return (o.wait && status != 0) ? 1 : 0;
  }
  if (o.executor != "local") throw InputError("--executor must be local or slurm, not '" + o.executor + "'");

  // Local: one child process per variant; as many at once as GPUs listed (else one).
  std::vector<const Variant*> todo;
  for (const auto& v : variants) {
    if (finished(root / v.name)) {
      std::cerr << "sweep: " << v.name << " already done, skipped\n";
      continue;
    }
    todo.push_back(&v);
  }
  const size_t slots = std::max<size_t>(1, o.gpus.size());
  std::map<pid_t, std::pair<size_t, std::string>> running;  // pid -> slot, variant
  std::vector<bool> busy(slots, false);
  int failures = 0;
  size_t next = 0;
  while (next < todo.size() || !running.empty()) {
    while (next < todo.size() && running.size() < slots) {
      size_t slot = 0;
      while (busy[slot]) ++slot;
      const Variant& v = *todo[next++];
      const std::string cmd = train_command(v, o.gpus.empty() ? "" : "cuda:" + o.gpus[slot]);
      std::cerr << "sweep: " << v.name << (o.gpus.empty() ? "" : " on GPU " + o.gpus[slot]) << "\n";
      const pid_t pid = fork();
      if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      if (pid < 0) throw RuntimeFailure("sweep: cannot start a process");
      busy[slot] = true;
      running[pid] = {slot, v.name};
    }
    int status = 0;
    const pid_t done = waitpid(-1, &status, 0);
    if (done < 0) break;
    auto it = running.find(done);
    if (it == running.end()) continue;
    busy[it->second.first] = false;
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      ++failures;
      std::cerr << "sweep: " << it->second.second << " failed; rerun the sweep with --resume to continue it\n";
    }
    running.erase(it);
  }
  return failures;
}

}  // namespace osteofm
