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
#include "core/interrupt.hpp"
#include "core/json_file.hpp"
#include "core/layout.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "data/cache_index.hpp"
#include "io/manifest.hpp"
#include "train/config.hpp"
#include "train/run_model.hpp"
#include "tuning/strategy.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

std::string shell_quote(const std::string& s) {
  // A newline survives quoting but ends a #SBATCH line and shows as two lines in logs:
  // main refuses such arguments first, this is for paths that reach a script another way.
  if (has_control_character(s))
    throw InputError("'" + visible_text(s) + "': a path with a control character cannot go into a batch script");
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

std::string batch_script_header(const std::string& job_name, const std::string& log, const std::string& directives) {
  for (const std::string* field : {&job_name, &log})
    if (has_control_character(*field))
      throw InputError("'" + visible_text(*field) + "': a path with a control character cannot go into a batch script");
  return "#!/bin/bash\n#SBATCH --job-name=" + job_name + "\n#SBATCH --output=" + log + "\n" + directives +
         "set -euo pipefail\n";
}

std::vector<std::string> global_options(const SweepOptions& o) {
  std::vector<std::string> options = log_options();
  if (o.threads > 0) options.insert(options.end(), {"--threads", std::to_string(o.threads)});
  return options;
}
std::string global_flags(const SweepOptions& o) {
  std::string s;
  for (const auto& a : global_options(o)) s += " " + a;
  return s;
}

std::string slurm_pass_on(const SweepOptions& o) {
  return " --executor slurm" + std::string(o.force ? " --force" : "") +
         (o.sbatch_args.empty() ? "" : " --sbatch-args " + shell_quote(o.sbatch_args));
}

namespace {
// A run's status.json when the run has finished ("state": "done"), else null.
json finished_status(const fs::path& run) {
  std::error_code ec;
  if (!fs::exists(run / layout::kRunStatus, ec)) return nullptr;
  const json s = parse_json_file((run / layout::kRunStatus).string());
  return !s.is_discarded() && s.is_object() && s.value("state", "") == "done" ? s : json(nullptr);
}
bool finished(const fs::path& run) { return !finished_status(run).is_null(); }
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

std::vector<std::string> study_explain_maps(const json& j, const std::string& file) {
  if (!j.contains("explain")) return {"gradcam", "occlusion"};
  const json& e = j["explain"];
  if (!e.is_object()) throw InputError(file + ": 'explain' must be an object, e.g. {\"maps\": [\"gradcam\", \"occlusion\"]}");
  for (auto it = e.begin(); it != e.end(); ++it)
    if (it.key() != "maps") throw InputError(file + ": unknown key 'explain." + it.key() + "' (explain takes \"maps\")");
  if (!e.contains("maps")) return {"gradcam", "occlusion"};
  const json& maps = e["maps"];
  if (!maps.is_array() || maps.empty())
    throw InputError(file + ": 'explain.maps' must be a non-empty list of gradcam, gradxact, occlusion, rollout");
  std::vector<std::string> out;
  for (const auto& m : maps) {
    const std::string name = m.is_string() ? m.get<std::string>() : m.dump();
    if (name != "gradcam" && name != "gradxact" && name != "occlusion" && name != "rollout")
      throw InputError(file + ": 'explain.maps': '" + name + "' is not gradcam, gradxact, occlusion or rollout");
    if (std::find(out.begin(), out.end(), name) != out.end())
      throw InputError(file + ": 'explain.maps' names '" + name + "' twice");
    out.push_back(name);
  }
  return out;
}

std::vector<Variant> expand_sweep(const std::string& file) {
  const json j = parse_json_file(file);
  std::string dir = fs::path(file).parent_path().string();
  return expand_sweep_json(j, file, dir.empty() ? "." : dir);
}

std::vector<Variant> expand_sweep_json(const json& j, const std::string& file, const std::string& dir) {
  if (j.is_discarded() || !j.is_object()) throw InputError(file + ": not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "base" && it.key() != "backbones" && it.key() != "strategies" && it.key() != "description" &&
        it.key() != "grid" && it.key() != "seeds" && it.key() != "explain")
      throw InputError(file + ": unknown sweep key '" + it.key() + "'");
  study_explain_maps(j, file);  // refused here, before anything trains
  if (!j.contains("backbones") || !j["backbones"].is_object() || j["backbones"].empty())
    throw InputError(file + ": 'backbones' must be a non-empty object");
  if (!j.contains("strategies") || !j["strategies"].is_object() || j["strategies"].empty())
    throw InputError(file + ": 'strategies' must be a non-empty object");
  json base = j.value("base", json::object());
  // Paths in the sweep file resolve against its folder (`dir`), now: the variant configs
  // are written elsewhere (SWEEP/configs/) and read from there.
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
  const std::vector<int64_t> seeds = j.contains("seeds") ? parse_seeds(j["seeds"], file) : std::vector<int64_t>{};
  // An entry's "grid" is the sweep's, not the backbone's or strategy's: taken out here.
  auto take_grid = [&](json entry, json& grid, const std::string& where) {
    if (entry.is_object() && entry.contains("grid")) {
      if (!entry["grid"].is_object()) throw InputError(file + ": " + where + " 'grid' must be an object of KEY: [values]");
      for (auto g = entry["grid"].begin(); g != entry["grid"].end(); ++g) grid[g.key()] = g.value();
      entry.erase("grid");
    }
    return entry;
  };
  const json top_grid = j.value("grid", json::object());
  if (!top_grid.is_object()) throw InputError(file + ": 'grid' must be an object of KEY: [values]");
  std::vector<Variant> out;
  // "d-x" × "lp" and "d" × "x-lp" both name "d-x-lp": one folder, one variant lost.
  std::map<std::string, std::string> made_by;  // variant name -> "backbones.B × strategies.S"
  for (auto b = j["backbones"].begin(); b != j["backbones"].end(); ++b)
    for (auto s = j["strategies"].begin(); s != j["strategies"].end(); ++s) {
      Variant v;
      v.name = b.key() + "-" + s.key();
      const std::string pair = "backbones." + b.key() + " × strategies." + s.key();
      if (const auto [it, fresh] = made_by.emplace(v.name, pair); !fresh)
        throw InputError(file + ": " + it->second + " and " + pair + " both make the variant '" + v.name +
                         "' (one folder): rename one");
      const std::string source = file + " (" + v.name + ")";
      json grid = top_grid;
      v.config = base;
      json backbone = take_grid(b.value(), grid, "backbones." + b.key());
      // An entry's "data" is the backbone's own data keys (e.g. the tensor cache of its
      // input geometry), over base.data.
      if (backbone.is_object() && backbone.contains("data")) {
        if (!backbone["data"].is_object()) throw InputError(file + ": backbones." + b.key() + " 'data' must be an object");
        for (auto d = backbone["data"].begin(); d != backbone["data"].end(); ++d) v.config["data"][d.key()] = d.value();
        backbone.erase("data");
      }
      v.config["backbone"] = backbone;
      v.config["strategy"] = take_grid(s.value(), grid, "strategies." + s.key());
      v.config = absolute_paths(v.config, dir);
      v.grid = expand_grid(grid, source);
      v.seeds = seeds;
      // Validate now: a typo should fail before a 12-variant sweep starts.
      for (const auto& point : v.grid) {
        for (auto k = point.values.begin(); k != point.values.end(); ++k)
          if (k.key() == "train.seed" || k.key() == "train.test_predictions" || k.key() == "data.manifest")
            throw InputError(source + ": '" + k.key() + "' cannot be a grid key (seeds go in \"seeds\")");
        try {
          resolve_train_config_json(with_values(v.config, point.values), {}, source, "");
        } catch (const InputError& e) {
          if (point.values.empty()) throw;
          throw InputError(std::string(e.what()) + " (grid point " + describe_values(point.values) + ")");
        }
      }
      out.push_back(v);
    }
  return out;
}

size_t planned_runs(const std::vector<Variant>& variants) {
  size_t n = 0;
  for (const auto& v : variants) n += (v.grid.size() > 1 ? v.grid.size() : 0) + std::max<size_t>(1, v.seeds.size());
  return n;
}

std::vector<std::string> check_sweep(const std::vector<Variant>& variants, const std::string& file) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> manifest_problem;  // manifest path -> "" or its problem
  for (const auto& v : variants) {
    try {
      const json config = resolve_train_config_json(v.config, {}, file + " (" + v.name + ")", "");
      build_classifier(config);  // preset, arch, weights (names and shapes), strategy fields
      // Each grid point's strategy fields, and its geometry when the grid varies it.
      for (const auto& point : v.grid) {
        if (point.values.empty()) continue;
        try {
          const json c = resolve_train_config_json(with_values(v.config, point.values), {}, file + " (" + v.name + ")", "");
          make_strategy(c["strategy"]);
          if (c["backbone"] != config["backbone"]) build_classifier(c);
        } catch (const InputError& e) {
          throw InputError(std::string(e.what()) + " (grid point " + describe_values(point.values) + ")");
        }
      }
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
  if (!fs::exists(root / layout::kSweepRecord, ec)) return failed;
  const json j = parse_json_file((root / layout::kSweepRecord).string());
  if (!j.is_discarded() && j.contains("failed") && j["failed"].is_array())
    for (const auto& f : j["failed"])
      if (f.is_string()) failed.insert(f.get<std::string>());
  return failed;
}

// Children die with the sweep: SIGTERM/SIGINT to the sweep is passed on to them (each
// stops at its next batch, its checkpoint kept), and each child asks the kernel for
// SIGTERM when its parent dies (even by SIGKILL).
void stop_children(const std::map<pid_t, std::pair<size_t, std::string>>& running) {
  for (const auto& [pid, v] : running) ::kill(pid, SIGTERM);
}
}  // namespace

namespace {
// One training of a sweep: a variant's grid point, or its selected configuration at a seed.
struct TrainJob {
  std::string name;  // "dinov2-lora", "dinov2-lora/g2", "dinov2-lora/seed-2"
  fs::path config, run;
};

std::vector<std::string> train_argv(const SweepOptions& o, const TrainJob& job, const std::string& device) {
  std::vector<std::string> argv = {o.binary};
  for (const auto& g : global_options(o)) argv.push_back(g);
  argv.insert(argv.end(), {"train", "--config", job.config.string(), "--out", job.run.string()});
  if (fs::exists(job.run / layout::kCheckpoints / layout::kLastCheckpoint)) argv.push_back("--resume");
  if (!device.empty()) argv.insert(argv.end(), {"--set", "train.device=" + device});
  return argv;
}

// Runs `jobs` as child processes, as many at once as GPUs listed (else one); finished runs
// are skipped, and so are those that failed before unless --resume. Returns the failures.
std::set<std::string> run_local_jobs(const std::vector<TrainJob>& jobs, const SweepOptions& o,
                                     const std::set<std::string>& failed_before) {
  std::vector<const TrainJob*> todo;
  std::set<std::string> failed_now;
  for (const auto& job : jobs) {
    if (finished(job.run)) {
      log_info("sweep", log_text(job.name, " already done, skipped"));
      continue;
    }
    if (!o.resume && failed_before.count(job.name)) {
      log_info("sweep", log_text(job.name, " failed in an earlier run, not retried (rerun with --resume to retry it)"));
      failed_now.insert(job.name);
      continue;
    }
    todo.push_back(&job);
  }
  const size_t slots = std::max<size_t>(1, o.gpus.size());
  std::map<pid_t, std::pair<size_t, std::string>> running;  // pid -> slot, job
  install_interrupt_handlers();
  bool stopping = false;
  std::vector<bool> busy(slots, false);
  size_t next = 0;
  const pid_t sweep_pid = ::getpid();
  while ((next < todo.size() && !stopping) || !running.empty()) {
    if (!stopping && interrupt_signal() != 0) {
      stopping = true;  // no new run; the running ones stop at their next batch
      stop_children(running);
      continue;
    }
    while (!stopping && next < todo.size() && running.size() < slots) {
      size_t slot = 0;
      while (busy[slot]) ++slot;
      const TrainJob& job = *todo[next++];
      const std::vector<std::string> args = train_argv(o, job, o.gpus.empty() ? "" : "cuda:" + o.gpus[slot]);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      log_info("sweep", log_text(job.name, (o.gpus.empty() ? "" : " on GPU " + o.gpus[slot])));
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
      running[pid] = {slot, job.name};
    }
    int status = 0;
    // Polled, not blocked on: a signal that lands just before a blocking wait would go
    // unseen until a run ends by itself.
    const pid_t done = waitpid(-1, &status, WNOHANG);
    if (done == 0) {
      ::usleep(100 * 1000);
      continue;
    }
    if (done < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = running.find(done);
    if (it == running.end()) continue;
    busy[it->second.first] = false;
    if (stopping) {
      log_warning("sweep", log_text(it->second.second, " stopped"));
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      failed_now.insert(it->second.second);
      log_warning("sweep", log_text(it->second.second,
                                    " failed (see its log above); rerun the sweep with --resume to retry it"));
    }
    running.erase(it);
  }
  throw_if_interrupted();  // nothing marked failed: every stopped run resumes from its checkpoint
  return failed_now;
}

// A grid point's validation result, from its status.json.
PointScore point_score(const std::string& name, const fs::path& run) {
  PointScore p;
  p.name = name;
  const json st = finished_status(run);
  if (st.is_null() || !st.contains("best_val_score") || !st["best_val_score"].is_number()) return p;
  p.finished = true;
  p.val_score = st["best_val_score"].get<double>();
  p.metric = st.value("selection_metric", "val_auc_macro");
  return p;
}

// The variant's selection among its finished grid points, written to
// SWEEP/selection/<variant>.json; -1 (nothing written) when a point has not finished.
// `tied_points`: how many points share the selected score (1: no tie).
int select_and_record(const Variant& v, const fs::path& root, size_t* tied_points) {
  std::vector<PointScore> scores;
  for (const auto& p : v.grid) scores.push_back(point_score(p.name, root / "grid" / v.name / p.name));
  const int chosen = select_point(scores);
  if (chosen < 0) return -1;
  json points = json::array();
  for (size_t i = 0; i < v.grid.size(); ++i)
    points.push_back({{"name", v.grid[i].name},
                      {"values", v.grid[i].values},
                      {"val_score", scores[i].val_score},
                      {"metric", scores[i].metric},
                      {"run", (fs::path("grid") / v.name / v.grid[i].name).string()}});
  json record = {{"variant", v.name},
                 {"rule", "highest best-epoch validation score (macro AUC; accuracy where validation lacks a "
                          "class); ties go to the first point; test predictions of grid points never made"},
                 {"points", points},
                 {"selected", v.grid[chosen].name},
                 {"values", v.grid[chosen].values},
                 {"seeds", v.seeds}};
  // Points sharing the best score: the choice among them is the grid's order, not the data.
  json tied = json::array();
  for (size_t i = 0; i < v.grid.size(); ++i)
    if (scores[i].finished && scores[i].val_score == scores[chosen].val_score) tied.push_back(v.grid[i].name);
  *tied_points = tied.size();
  if (tied.size() > 1) {
    record["tied"] = tied;
    record["tie_broken_by"] = "the first of the tied points in grid order";
  }
  fs::create_directories(root / "selection");
  write_file_atomic((root / "selection" / (v.name + ".json")).string(), record.dump(2) + "\n");
  return chosen;
}

// The runs of a variant's selected configuration: the first seed in SWEEP/<variant>, the
// others in SWEEP/seeds/<variant>/seed-<S>; their configs written to SWEEP/configs/.
std::vector<TrainJob> seed_jobs(const Variant& v, const json& values, const fs::path& root) {
  std::vector<TrainJob> jobs;
  const std::vector<int64_t> seeds = v.seeds.empty() ? std::vector<int64_t>{-1} : v.seeds;
  for (size_t i = 0; i < seeds.size(); ++i) {
    json config = with_values(v.config, values);
    if (seeds[i] >= 0) config["train"]["seed"] = seeds[i];
    const std::string tag = "seed-" + std::to_string(seeds[i]);
    TrainJob job;
    job.name = i == 0 ? v.name : v.name + "/" + tag;
    job.config = root / "configs" / (i == 0 ? v.name + ".json" : v.name + "." + tag + ".json");
    job.run = i == 0 ? root / v.name : root / layout::kSeedsDir / v.name / tag;
    write_file_atomic(job.config.string(), config.dump(2) + "\n");
    jobs.push_back(job);
  }
  return jobs;
}
SlurmSubmission submit(const std::vector<std::string>& argv) {
  const CommandOutput sbatch = run_capturing_stdout(argv);
  SlurmSubmission s;
  s.id = sbatch.out;
  s.status = sbatch.status;
  while (!s.id.empty() && (s.id.back() == '\n' || s.id.back() == '\r')) s.id.pop_back();
  const auto semicolon = s.id.find(';');  // --parsable: "id[;cluster]"
  if (semicolon != std::string::npos) s.id.resize(semicolon);
  if (s.status != 0 && s.id.empty()) throw RuntimeFailure("sbatch failed (is Slurm installed and running?)");
  return s;
}

// One job array, a task per job: `osteofm train` on its config and run folder (resumed
// when the folder holds a checkpoint). The script is written to `script`, then submitted.
SlurmSubmission submit_array(const std::vector<TrainJob>& jobs, const fs::path& script, const std::string& name,
                             const SweepOptions& o) {
  const fs::path root = fs::absolute(script.parent_path());
  std::string text = batch_script_header(name, (root / (name + "_%A_%a.log")).string(),
                                         "#SBATCH --array=0-" + std::to_string(jobs.size() - 1) + "\n") +
                     "configs=(";
  for (const auto& job : jobs) text += " " + shell_quote(fs::absolute(job.config).string());
  text += " )\nruns=(";
  for (const auto& job : jobs) text += " " + shell_quote(fs::absolute(job.run).string());
  text += " )\nrun=${runs[$SLURM_ARRAY_TASK_ID]}\n";
  text += "resume=''\n[[ -f \"$run/checkpoints/last.safetensors\" ]] && resume=--resume\n";
  text += "exec " + shell_quote(fs::absolute(o.binary).string()) + global_flags(o) + " train --config \"${configs[$SLURM_ARRAY_TASK_ID]}\" --out \"$run\" $resume\n";
  fs::create_directories(root);
  write_file_atomic(script.string(), text);
  return submit(sbatch_command(o, fs::absolute(script).string()));
}
}  // namespace

SlurmSubmission submit_batch(const SweepOptions& o, const std::string& script, const std::string& after) {
  std::vector<std::string> argv = sbatch_command(o, script);
  if (!after.empty()) argv.insert(argv.begin() + 2, "--dependency=afterok:" + after);
  return submit(argv);
}

void check_run_limit(const std::vector<Variant>& variants, const std::string& file, bool force) {
  const size_t runs = planned_runs(variants);
  if (runs > kSweepRunLimit && !force)
    throw InputError(file + ": expands to " + std::to_string(runs) + " training runs (grid points and seeds), more than " +
                     std::to_string(kSweepRunLimit) + "; shrink the grid or add --force");
}

namespace {

// The grid points of every variant with a grid: one config each (first seed, no test
// predictions: the test split is for the selected configuration only).
std::vector<TrainJob> write_grid_jobs(const std::vector<Variant>& variants, const fs::path& root) {
  std::vector<TrainJob> grid_jobs;
  for (const auto& v : variants) {
    if (v.grid.size() < 2) continue;
    for (const auto& p : v.grid) {
      json config = with_values(v.config, p.values);
      if (!v.seeds.empty()) config["train"]["seed"] = v.seeds[0];
      config["train"]["test_predictions"] = false;
      TrainJob job{v.name + "/" + p.name, root / "configs" / (v.name + "." + p.name + ".json"), root / "grid" / v.name / p.name};
      write_file_atomic(job.config.string(), config.dump(2) + "\n");
      grid_jobs.push_back(job);
    }
  }
  return grid_jobs;
}

// Each variant's selection on validation (recorded under SWEEP/selection/), then its
// selected configuration at every seed; a variant whose grid has not finished is skipped.
std::vector<TrainJob> selected_seed_jobs(const std::vector<Variant>& variants, const fs::path& root) {
  std::vector<TrainJob> final_jobs;
  for (const auto& v : variants) {
    int chosen = 0;
    if (v.grid.size() > 1) {
      size_t tied = 1;
      chosen = select_and_record(v, root, &tied);
      if (chosen < 0) {
        log_info("sweep", log_text(v.name, ": not every grid point finished, so nothing is selected or tested"));
        continue;
      }
      log_info("sweep",
               log_text(v.name, ": selected ", v.grid[chosen].name, " (", describe_values(v.grid[chosen].values),
                        ") of ", v.grid.size(), " grid points on validation",
                        (tied > 1 ? "; " + std::to_string(tied) +
                                        " points tied on the validation score, the first in grid order was kept"
                                  : std::string())));
    }
    for (auto& job : seed_jobs(v, v.grid[chosen].values, root)) final_jobs.push_back(job);
  }
  return final_jobs;
}

}  // namespace

int run_sweep(const std::string& file, const std::string& sweep_dir, const SweepOptions& o) {
  const auto variants = expand_sweep(file);
  check_run_limit(variants, file, o.force);
  const size_t runs = planned_runs(variants);
  if (o.executor != "local" && o.executor != "slurm")
    throw InputError("--executor must be local or slurm, not '" + o.executor + "'");
  // Every variant resolved before any starts: twelve identical errors become one list.
  const auto problems = check_sweep(variants, file);
  if (!problems.empty()) {
    for (const auto& p : problems) log_warning("sweep", p);
    throw InputError(file + ": " + std::to_string(problems.size()) + " of " + std::to_string(variants.size()) +
                     " variants cannot start (listed above); nothing was run");
  }
  const fs::path root(sweep_dir);
  // Bad --sbatch-args refused before anything is written.
  if (o.executor == "slurm") sbatch_command(o, "array.sh");
  fs::create_directories(root / "configs");
  std::set<std::string> failed_before = earlier_failures(root);
  json manifest = {{"config", fs::absolute(file).string()}, {"executor", o.executor}, {"runs", runs},
                   {"variants", json::array()}};
  for (const auto& v : variants) manifest["variants"].push_back(v.name);
  auto write_manifest = [&](const std::set<std::string>& failed) {
    manifest["failed"] = json::array();
    for (const auto& f : failed) manifest["failed"].push_back(f);
    write_file_atomic((root / layout::kSweepRecord).string(), manifest.dump(2) + "\n");
  };
  write_manifest(o.resume ? std::set<std::string>{} : failed_before);

  // 1. Grid points, first seed, validation only.
  const std::vector<TrainJob> grid_jobs = write_grid_jobs(variants, root);
  std::set<std::string> failed;
  if (o.executor == "slurm") {
    std::vector<TrainJob> pending;
    for (const auto& job : grid_jobs)
      if (!finished(job.run)) pending.push_back(job);
    if (!pending.empty()) {
      const SlurmSubmission grid = submit_array(pending, root / "slurm" / "grid.sh", "osteofm-grid", o);
      print_result(log_text("submitted grid job array ", grid.id, " (", pending.size(), " tasks)\n"));
      if (!o.wait) {
        // The selection sits between the arrays: a job that waits for the grid reruns this
        // sweep, which then finds the grid finished, selects, and submits the seed runs.
        const std::string script =
            batch_script_header("osteofm-select", (fs::absolute(root) / "slurm" / "select_%j.log").string()) + "exec " +
            shell_quote(fs::absolute(o.binary).string()) + global_flags(o) + " sweep --config " +
            shell_quote(fs::absolute(file).string()) +
            " --out " + shell_quote(fs::absolute(root).string()) + slurm_pass_on(o) +
            (o.then_script.empty() ? "" : " --then " + shell_quote(fs::absolute(o.then_script).string())) + "\n";
        const fs::path select = root / "slurm" / "select.sh";
        write_file_atomic(select.string(), script);
        SweepOptions once = o;
        once.wait = false;
        const SlurmSubmission follow = submit_batch(once, fs::absolute(select).string(), grid.id);
        print_result(log_text("submitted job ", follow.id,
                              " (after the grid: selection on validation, then the seed runs); logs in ",
                              (root / "slurm").string(), "; collect with: osteofm table ", sweep_dir, "\n"));
        return 0;
      }
      if (grid.status != 0) {
        log_warning("sweep",
                    log_text("the grid job array ", grid.id, " failed (logs in ", (root / "slurm").string(), ")"));
        for (const auto& job : pending)
          if (!finished(job.run)) failed.insert(job.name);
      }
    }
  } else {
    failed = run_local_jobs(grid_jobs, o, failed_before);
  }

  // 2. Selection, then 3. the selected configuration at every seed.
  const std::vector<TrainJob> final_jobs = selected_seed_jobs(variants, root);
  if (o.executor == "slurm") {
    if (final_jobs.empty()) throw RuntimeFailure(sweep_dir + ": no variant has a selection to run (see above)");
    // Finished runs are not submitted again: a task would reload its data and predict
    // val and test once more for nothing.
    std::vector<TrainJob> pending;
    for (const auto& job : final_jobs)
      if (!finished(job.run)) pending.push_back(job);
    SlurmSubmission runs;
    if (pending.empty()) {
      print_result(log_text("sweep: every run has finished; nothing submitted\n"));
    } else {
      runs = submit_array(pending, root / "slurm" / "array.sh", "osteofm-sweep", o);
      print_result(log_text("submitted job array ", runs.id, " (", pending.size(), " tasks); logs in ",
                            (root / "slurm").string(), "; collect with: osteofm table ", sweep_dir, "\n"));
    }
    if (!o.then_script.empty() && !o.wait) {
      const SlurmSubmission then = submit_batch(o, fs::absolute(o.then_script).string(), runs.id);
      print_result(
          log_text("submitted job ", then.id, " (", o.then_script, (runs.id.empty() ? ")\n" : ", after the array)\n")));
    }
    write_manifest(failed);
    return (o.wait && (runs.status != 0 || !failed.empty())) ? 1 : 0;
  }
  for (const auto& f : run_local_jobs(final_jobs, o, failed_before)) failed.insert(f);
  write_manifest(failed);
  return static_cast<int>(failed.size());
}

}  // namespace osteofm
