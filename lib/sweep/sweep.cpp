#include "sweep/sweep.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/json_file.hpp"
#include "core/layout.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "sweep/executor.hpp"
#include "data/cache_index.hpp"
#include "io/manifest.hpp"
#include "train/config.hpp"
#include "train/run_model.hpp"
#include "tuning/strategy.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> global_options(const SweepOptions& o) {
  std::vector<std::string> options = log_options();
  if (o.threads > 0) options.insert(options.end(), {"--threads", std::to_string(o.threads)});
  return options;
}

ChildCommand child_command(const SweepOptions& o, const std::vector<std::string>& verb_and_arguments) {
  ChildCommand c;
  c.words.push_back(o.binary);
  for (const auto& g : global_options(o)) c.words.push_back(g);
  c.words.insert(c.words.end(), verb_and_arguments.begin(), verb_and_arguments.end());
  return c;
}

std::string ChildCommand::script_line(const std::string& raw) const {
  // Words of plain characters stay as they are (the script reads as typed); the rest are
  // quoted.
  auto plain = [](const std::string& w) {
    return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::string("_@%+=:,./-").find(c) != std::string::npos;
    });
  };
  std::string line = "exec";
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string w = i == 0 ? fs::absolute(words[0]).string() : words[i];  // a job's folder is not ours
    line += " " + (plain(w) ? w : shell_quote(w));
  }
  return line + raw;
}
namespace {
// A run's status.json when the run has finished ("state": "done"), else null.
json finished_status(const fs::path& run) {
  std::error_code ec;
  if (!fs::exists(run / layout::kRunStatus, ec)) return nullptr;
  const json s = parse_json_file((run / layout::kRunStatus).string());
  return !s.is_discarded() && s.is_object() && s.value("state", "") == "done" ? s : json(nullptr);
}
}  // namespace

bool run_finished(const fs::path& run) { return !finished_status(run).is_null(); }

std::vector<std::string> study_explain_maps(const json& j, const std::string& file, const std::vector<std::string>& known) {
  if (!j.contains("explain")) return {"gradcam", "occlusion"};
  const json& e = j["explain"];
  if (!e.is_object()) throw InputError(file + ": 'explain' must be an object, e.g. {\"maps\": [\"gradcam\", \"occlusion\"]}");
  for (auto it = e.begin(); it != e.end(); ++it)
    if (it.key() != "maps") throw InputError(file + ": unknown key 'explain." + it.key() + "' (explain takes \"maps\")");
  if (!e.contains("maps")) return {"gradcam", "occlusion"};
  const json& maps = e["maps"];
  if (!maps.is_array() || maps.empty())
    throw InputError(file + ": 'explain.maps' must be a non-empty list of saliency maps, e.g. [\"gradcam\", \"occlusion\"]");
  std::vector<std::string> out;
  for (const auto& m : maps) {
    const std::string name = m.is_string() ? m.get<std::string>() : m.dump();
    if (!known.empty() && std::find(known.begin(), known.end(), name) == known.end())
      throw InputError(file + ": 'explain.maps': '" + name + "' is not " + or_list(known));
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
  study_explain_maps(j, file, {});  // its form; the names are checked by those who know them (cmd_sweep, reproduce)
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
    const std::string source = file + " (" + v.name + ")";
    try {
      const json config = resolve_train_config_json(v.config, {}, source, "");
      build_classifier(typed_run_config(config, source));  // preset, arch, weights (names and shapes), strategy fields
      // Each grid point's strategy fields, and its geometry when the grid varies it.
      for (const auto& point : v.grid) {
        if (point.values.empty()) continue;
        try {
          const json c = resolve_train_config_json(with_values(v.config, point.values), {}, source, "");
          make_strategy(c["strategy"]);
          if (c["backbone"] != config["backbone"]) build_classifier(typed_run_config(c, source));
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
}  // namespace

namespace {
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
}  // namespace

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
  const std::unique_ptr<SweepExecutor> executor = make_sweep_executor(o);
  // Every variant resolved before any starts: twelve identical errors become one list.
  const auto problems = check_sweep(variants, file);
  if (!problems.empty()) {
    for (const auto& p : problems) log_warning("sweep", p);
    throw InputError(file + ": " + std::to_string(problems.size()) + " of " + std::to_string(variants.size()) +
                     " variants cannot start (listed above); nothing was run");
  }
  SweepSite site;
  site.file = file;
  site.sweep_dir = sweep_dir;
  site.root = sweep_dir;
  fs::create_directories(site.root / "configs");
  site.failed_before = earlier_failures(site.root);
  json manifest = {{"config", fs::absolute(file).string()}, {"executor", o.executor}, {"runs", runs},
                   {"variants", json::array()}};
  for (const auto& v : variants) manifest["variants"].push_back(v.name);
  auto write_manifest = [&](const std::set<std::string>& failed) {
    manifest["failed"] = json::array();
    for (const auto& f : failed) manifest["failed"].push_back(f);
    write_file_atomic((site.root / layout::kSweepRecord).string(), manifest.dump(2) + "\n");
  };
  write_manifest(o.resume ? std::set<std::string>{} : site.failed_before);

  // 1. Grid points, first seed, validation only.
  std::set<std::string> failed;
  if (!executor->run_grid(write_grid_jobs(variants, site.root), site, failed)) return 0;
  // 2. Selection, then 3. the selected configuration at every seed.
  const int result = executor->run_selected(selected_seed_jobs(variants, site.root), site, failed);
  write_manifest(failed);
  return result;
}

std::unique_ptr<SweepExecutor> make_sweep_executor(const SweepOptions& o) {
  if (o.executor == "local") return make_local_executor(o);
  if (o.executor == "slurm") return make_slurm_executor(o);
  throw InputError("--executor must be local or slurm, not '" + o.executor + "'");
}

}  // namespace osteofm
