// Sweeps: the local executor (skips finished variants) and the Slurm executor against a
// real one-node Slurm started by tests/slurm/local-slurm.sh (not a mock, never skipped).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/csv.hpp"

#include "sweep/executor.hpp"
#include "sweep/sweep.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {
std::string mini_sweep(const TempDir& dir) {
  REQUIRE(run_osteofm("synth --out '" + (dir / "cohort") + "' --patients 50 --size 112 --seed 4").code == 0);
  const json sweep = {{"base", {{"data", {{"manifest", "cohort/manifest.csv"}}}, {"train", {{"epochs", 2}, {"batch_size", 16}}}}},
                      {"backbones", {{"dinov2", {{"preset", "dinov2-tiny"}}}}},
                      {"strategies", {{"linear", {{"name", "linear_probe"}}}, {"lora", {{"name", "lora"}, {"rank", 2}}}}}};
  write_text(dir / "sweep.json", sweep.dump());
  return dir / "sweep.json";
}
void check_done(const TempDir& dir, const std::string& sweep) {
  for (const char* v : {"dinov2-linear", "dinov2-lora"}) {
    INFO(v);
    REQUIRE(fs::exists(dir.path / sweep / v / "status.json"));
    CHECK(json::parse(read_text((dir.path / sweep / v / "status.json").string()))["state"] == "done");
    CHECK(fs::exists(dir.path / sweep / v / "metrics_test.json"));
  }
}
// One local Slurm at a time, on Slurm's fixed ports: ctest's RESOURCE_LOCK local_slurm
// (tests/CMakeLists.txt, every [slurm] case) keeps ctest from starting two, and this flock
// keeps two test processes started by hand from it as well.
struct LocalSlurm {
  std::string dir;
  int lock_fd = -1;
  explicit LocalSlurm(const std::string& d) : dir(d) {
    lock_fd = ::open("/tmp/osteofm-local-slurm.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX) != 0) FAIL("could not lock /tmp/osteofm-local-slurm.lock");
    const int rc = std::system(("LOCAL_SLURM_OWNER=" + std::to_string(::getpid()) + " bash '" +
                                source("tests/slurm/local-slurm.sh") + "' start '" + dir + "' >'" + dir +
                                ".out' 2>&1").c_str());
    if (rc != 0) {
      ::close(lock_fd);
      FAIL("could not start the local Slurm: " << read_text(dir + ".out"));
    }
  }
  ~LocalSlurm() {
    std::system(("bash '" + source("tests/slurm/local-slurm.sh") + "' stop '" + dir + "'").c_str());
    ::close(lock_fd);  // releases the flock
  }
  std::string diagnose() const {
    TempDir tmp;
    std::system(("bash '" + source("tests/slurm/local-slurm.sh") + "' diagnose '" + dir + "' >'" + (tmp / "d") + "' 2>&1").c_str());
    return read_text(tmp / "d");
  }
  bool queue_empty() const { return std::system("test -z \"$(squeue -h 2>/dev/null)\"") == 0; }
  // Polls `done` once a second for up to `limit_s`. A queue that stays empty for 15 s while
  // `done` is still false means no job will make it true: the test fails then, with what
  // the queue and the daemons' logs say, instead of waiting out the limit in silence.
  template <class Done>
  void wait_until(Done done, int limit_s, const std::string& what) const {
    int idle_s = 0;
    for (int s = 0; s < limit_s; ++s) {
      if (done()) return;
      idle_s = queue_empty() ? idle_s + 1 : 0;
      if (idle_s >= 15) FAIL(what << ": the Slurm queue has been empty for 15 s and it never happened\n" << diagnose());
      std::system("sleep 1");
    }
    if (!done()) FAIL(what << ": not after " << limit_s << " s\n" << diagnose());
  }
};
}  // namespace

TEST_CASE("sweep: local executor runs every variant, skips finished ones, feeds the table", "[sweep][image_io]") {
  TempDir dir;
  const std::string cfg = mini_sweep(dir);
  // The global --threads reaches every training child (it used to be dropped: four GPU
  // children each took every core).
  CliResult r = run_osteofm("--threads 3 sweep --config '" + cfg + "' --out '" + (dir / "sw") + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  check_done(dir, "sw");
  for (const std::string v : {"dinov2-linear", "dinov2-lora"}) {
    const json prov = json::parse(read_text(dir / ("sw/" + v + "/provenance.json")));
    CHECK_THAT(prov["command_line"].get<std::string>(), Catch::Contains(" --threads 3 train --config "));
    CHECK(prov["libraries"]["threads"] == 3);
  }
  CHECK(json::parse(read_text(dir / "sw/sweep.json"))["variants"].size() == 2);
  CliResult again = run_osteofm("sweep --config '" + cfg + "' --out '" + (dir / "sw") + "'");
  CHECK(again.code == 0);
  CHECK_THAT(again.err, Catch::Contains("dinov2-linear already done, skipped") && Catch::Contains("dinov2-lora already done"));
  CliResult t = run_osteofm("table '" + (dir / "sw") + "'");
  CHECK(t.code == 0);
  CHECK_THAT(t.out, Catch::Contains("| dinov2-tiny | linear_probe |") && Catch::Contains("| dinov2-tiny | lora |"));
  // A typo in the sweep config fails before anything runs.
  write_text(dir / "bad.json", R"({"backbones": {"x": {"preset": "dinov2-tiny"}}, "strategies": {"y": {"name": "lora"}}, "base": {"train": {"epochz": 1}}})");
  CliResult bad = run_osteofm("sweep --config '" + (dir / "bad.json") + "' --out '" + (dir / "sw2") + "'");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("unknown config key 'train.epochz'"));
}

TEST_CASE("sweep: nested selection on validation over a grid, seeds, and the table's selection and spread",
          "[sweep][image_io]") {
  TempDir dir;
  REQUIRE(run_osteofm("synth --out '" + (dir / "cohort") + "' --patients 50 --size 112 --seed 4").code == 0);
  json sweep = {{"base", {{"data", {{"manifest", "cohort/manifest.csv"}}}, {"train", {{"epochs", 2}, {"batch_size", 16}}}}},
                {"backbones", {{"dinov2", {{"preset", "dinov2-tiny"}}}}},
                {"strategies",
                 {{"linear", {{"name", "linear_probe"}, {"grid", {{"train.lr_head", {0.0001, 0.03}}}}}},
                  // A grid over the input size: 126 px interpolates the 8x8 position table to 9x9.
                  {"lora", {{"name", "lora"}, {"rank", 2}, {"grid", {{"backbone.image_size", {112, 126}}}}}}}},
                {"seeds", {3, 5, 7}}};
  write_text(dir / "sweep.json", sweep.dump());
  const CliResult r = run_osteofm("sweep --config '" + (dir / "sweep.json") + "' --out '" + (dir / "sw") + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const std::string v : {"dinov2-linear", "dinov2-lora"}) {
    INFO(v);
    const json sel = json::parse(read_text(dir / ("sw/selection/" + v + ".json")));
    REQUIRE(sel["points"].size() == 2);
    // Grid points saw validation only; the highest validation score was selected.
    size_t best = 0;
    for (size_t i = 0; i < 2; ++i) {
      const std::string g = sel["points"][i]["name"];
      const fs::path run = dir.path / "sw/grid" / v / g;
      CHECK(json::parse(read_text((run / "status.json").string()))["state"] == "done");
      CHECK(fs::exists(run / "predictions_val.csv"));
      CHECK_FALSE(fs::exists(run / "predictions_test.csv"));
      CHECK_FALSE(fs::exists(run / "metrics_test.json"));
      CHECK(json::parse(read_text((run / "config.json").string()))["train"]["seed"] == 3);
      if (sel["points"][i]["val_score"].get<double>() > sel["points"][best]["val_score"].get<double>()) best = i;
    }
    CHECK(sel["selected"] == sel["points"][best]["name"]);
    // The selected configuration retrained at the first seed is the grid point's run again.
    const json main_config = json::parse(read_text(dir / ("sw/" + v + "/config.json")));
    const json main_status = json::parse(read_text(dir / ("sw/" + v + "/status.json")));
    CHECK(main_config["train"]["seed"] == 3);
    CHECK(main_status["best_val_score"].get<double>() ==
          Approx(sel["points"][best]["val_score"].get<double>()).margin(1e-9));
    CHECK(fs::exists(dir.path / "sw" / v / "metrics_test.json"));
    CHECK(json::parse(read_text(dir / ("sw/seeds/" + v + "/seed-5/config.json")))["train"]["seed"] == 5);
    CHECK(fs::exists(dir.path / "sw/seeds" / v / "seed-5/metrics_test.json"));
  }
  const json lora = json::parse(read_text(dir / "sw/selection/dinov2-lora.json"));
  CHECK(json::parse(read_text(dir / "sw/dinov2-lora/preprocessing.json"))["size"] == lora["values"]["backbone.image_size"]);
  CHECK(json::parse(read_text(dir / "sw/grid/dinov2-lora/g2/preprocessing.json"))["size"] == 126);
  // predict at the run's own size.
  const CliResult p = run_osteofm("predict --run '" + (dir / "sw/grid/dinov2-lora/g2") + "' '" +
                                  (dir / "cohort/images/PH00001_1.png") + "'");
  INFO(p.err);
  CHECK(p.code == 0);

  // The table: the selection and the spread over the two seeds.
  const CliResult t = run_osteofm("table '" + (dir / "sw") + "'");
  INFO(t.err);
  REQUIRE(t.code == 0);
  CHECK_THAT(t.out, Catch::Contains("Selected (grid points)") && Catch::Contains("Macro AUC over seeds (mean ± SD, n)") &&
                        Catch::Contains("(2) |") && Catch::Contains("only it was evaluated on the test split"));
  const CliResult csv = run_osteofm("table '" + (dir / "sw") + "' --format csv");
  REQUIRE(csv.code == 0);
  const CsvTable table = parse_csv(csv.out, "table.csv");
  REQUIRE(table.records.size() == 2);
  for (const auto& rec : table.records) {
    const auto cell = [&](const char* name) { return rec.fields.at(static_cast<size_t>(table.column(name))); };
    CHECK(cell("grid_points") == "2");
    CHECK(cell("seeds") == "3");
    const std::string v = "dinov2-" + std::string(cell("strategy") == "lora" ? "lora" : "linear");
    // Each seed's own metrics_test.json (eval at the end of its training): the headline is
    // their mean, sensitivity and specificity each at its seed's validation threshold.
    std::vector<json> seeds = {json::parse(read_text(dir / ("sw/" + v + "/metrics_test.json")))};
    for (const char* s : {"seed-5", "seed-7"})
      seeds.push_back(json::parse(read_text(dir / ("sw/seeds/" + v + "/" + s + "/metrics_test.json"))));
    const auto mean_of = [&](const std::vector<std::string>& path) {
      double sum = 0;
      for (const json& m : seeds) {
        const json* node = &m;
        for (const auto& k : path) node = &(*node)[k];
        sum += (*node)["estimate"].get<double>();
      }
      return sum / 3;
    };
    const std::vector<std::string> youden = {"endpoints", "osteoporosis_vs_rest", "at_threshold", "youden"};
    auto at_youden = [&](const char* key) {
      std::vector<std::string> p = youden;
      p.push_back(key);
      return p;
    };
    CHECK(std::stod(cell("auc_macro")) == Approx(mean_of({"auc_macro"})).margin(1e-12));
    CHECK(std::stod(cell("auc_osteoporosis")) == Approx(mean_of({"auc_osteoporosis_vs_rest"})).margin(1e-12));
    CHECK(std::stod(cell("accuracy")) == Approx(mean_of({"accuracy"})).margin(1e-12));
    CHECK(std::stod(cell("sensitivity_osteoporosis")) == Approx(mean_of(at_youden("sensitivity"))).margin(1e-12));
    CHECK(std::stod(cell("specificity_osteoporosis")) == Approx(mean_of(at_youden("specificity"))).margin(1e-12));
    CHECK(cell("youden_threshold").empty());  // three thresholds, none of them the table's
    CHECK(std::stod(cell("auc_macro_lower")) <= std::stod(cell("auc_macro")));
    CHECK(std::stod(cell("auc_macro_upper")) >= std::stod(cell("auc_macro")));
    CHECK(std::stod(cell("auc_macro_seed_mean")) == Approx(mean_of({"auc_macro"})).margin(1e-12));
    double ss = 0;
    for (const json& m : seeds) ss += std::pow(m["auc_macro"]["estimate"].get<double>() - mean_of({"auc_macro"}), 2);
    CHECK(std::stod(cell("auc_macro_seed_sd")) == Approx(std::sqrt(ss / 2)).margin(1e-12));
  }
  CHECK_THAT(t.out, Catch::Contains("percentile interval of that seed mean"));
  // compare --sweep: each variant the mean of its three seeds, named one by one.
  const CliResult cmp = run_osteofm("compare --sweep '" + (dir / "sw") + "' --bootstrap 200");
  INFO(cmp.err);
  REQUIRE(cmp.code == 0);
  const json cj = json::parse(read_text(dir / "sw/compare.json"));
  for (const json& m : cj["models"]) {
    CHECK(m["seeds"]["n"] == 3);
    CHECK(m["seeds"]["runs"] == json({"seed-3", "seed-5", "seed-7"}));
  }
  CHECK(cj.contains("seed_averaging"));
  // Rerunning skips every finished run, grid points included.
  const CliResult again = run_osteofm("sweep --config '" + (dir / "sweep.json") + "' --out '" + (dir / "sw") + "'");
  CHECK(again.code == 0);
  CHECK_THAT(again.err, Catch::Contains("dinov2-linear/g1 already done") && Catch::Contains("dinov2-lora/seed-7 already done"));
}

TEST_CASE("sweep: grids and seeds that cannot run are refused before anything starts", "[sweep][image_io]") {
  TempDir dir;
  const std::string cfg = mini_sweep(dir);
  json sweep = json::parse(read_text(cfg));
  auto refused = [&](const json& s, const std::string& why, const std::string& extra = "") {
    write_text(dir / "s.json", s.dump());
    const CliResult r = run_osteofm("sweep --config '" + (dir / "s.json") + "' --out '" + (dir / "sw") + "'" + extra);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains(why));
    CHECK_FALSE(fs::exists(dir.path / "sw"));
  };
  json s = sweep;
  s["seeds"] = {1, 2, 1};
  refused(s, "seed 1 is listed twice");
  // reproduce's saliency maps: known ones, once each.
  s = sweep;
  s["explain"] = {{"maps", {"gradcam", "lime"}}};
  refused(s, "'explain.maps': 'lime' is not gradcam, gradxact, occlusion or rollout");
  s["explain"] = {{"maps", {"occlusion", "occlusion"}}};
  refused(s, "'explain.maps' names 'occlusion' twice");
  s["explain"] = {{"maps", json::array()}};
  refused(s, "'explain.maps' must be a non-empty list");
  s["explain"] = {{"map", {"gradcam"}}};
  refused(s, "unknown key 'explain.map'");
  // A backbone's own data keys (its tensor cache) are an object, and a manifest that exists.
  s = sweep;
  s["backbones"]["dinov2"]["data"] = "cache";
  refused(s, "backbones.dinov2 'data' must be an object");
  s = sweep;
  s["backbones"]["dinov2"]["data"] = {{"manifest", "no-such-cache"}};
  refused(s, "no-such-cache");
  s = sweep;
  s["seeds"] = {1.5};
  refused(s, "not a whole number");
  s = sweep;
  json many = json::array();
  for (int i = 0; i < 101; ++i) many.push_back(1e-4 * (i + 1));
  s["grid"] = {{"train.lr_head", many}};  // 2 variants x 101 points + 2 runs = 204 > 200
  refused(s, "expands to 204 training runs");
  write_text(dir / "s.json", s.dump());
  const CliResult forced = run_osteofm("sweep --check --force --config '" + (dir / "s.json") + "'");
  INFO(forced.err);
  CHECK(forced.code == 0);
  CHECK_THAT(forced.out, Catch::Contains("204 training runs"));
  s = sweep;
  s["grid"] = {{"train.lr_haed", {0.1, 0.2}}};
  refused(s, "unknown config key 'train.lr_haed'");
  s = sweep;
  s["grid"] = {{"train.seed", {1, 2}}};
  refused(s, "'train.seed' cannot be a grid key");
  s = sweep;
  s["grid"] = {{"train.lr_head", {0.1, 0.1}}};
  refused(s, "lists 0.1 twice");
  s = sweep;
  s["strategies"]["lora"]["grid"] = {{"backbone.image_size", {112, 120}}};
  refused(s, "backbone.image_size = 120 is not a multiple");
  s = sweep;
  s["strategies"]["lora"]["grid"] = {{"strategy.rank", {2, -1}}};
  refused(s, "grid point rank=-1");

  // The paper's sweep: per-strategy learning-rate grids, three seeds, under the limit.
  const auto paper = expand_sweep(source("configs/sweeps/paper.json"));
  REQUIRE(paper.size() == 12);
  CHECK(planned_runs(paper) == 72);
  for (const auto& v : paper) {
    INFO(v.name);
    CHECK(v.grid.size() == 3);
    CHECK(v.seeds == std::vector<int64_t>{1, 2, 3});
    const std::string key = v.name.find("-linear") != std::string::npos ? "train.lr_head" : "train.lr_body";
    CHECK(v.grid[0].values.contains(key));
    CHECK_FALSE(v.config["strategy"].contains("grid"));
  }
}

TEST_CASE("sweep: Slurm executor runs one job-array task per variant on a real Slurm", "[sweep][slurm][image_io]") {
  TempDir dir;
  const std::string cfg = mini_sweep(dir);
  LocalSlurm slurm(dir / "slurm-state");
  CliResult r = run_osteofm("sweep --config '" + cfg + "' --out '" + (dir / "sw") + "' --executor slurm --wait");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("submitted job array") && Catch::Contains("(2 tasks)"));
  CHECK(fs::exists(dir / "sw/slurm/array.sh"));
  check_done(dir, "sw");
  CHECK(run_osteofm("table '" + (dir / "sw") + "' --format csv").code == 0);
}

TEST_CASE("sweep: on Slurm a grid is one array, the selection a job after it, the seed runs a second array",
          "[sweep][slurm][image_io]") {
  TempDir dir;
  REQUIRE(run_osteofm("synth --out '" + (dir / "cohort") + "' --patients 50 --size 112 --seed 4").code == 0);
  const json sweep = {{"base", {{"data", {{"manifest", "cohort/manifest.csv"}}}, {"train", {{"epochs", 2}, {"batch_size", 16}}}}},
                      {"backbones", {{"dinov2", {{"preset", "dinov2-tiny"}}}}},
                      {"strategies", {{"linear", {{"name", "linear_probe"}}}}},
                      {"grid", {{"train.lr_head", {0.0001, 0.03}}}}};
  write_text(dir / "sweep.json", sweep.dump());
  LocalSlurm slurm(dir / "slurm-state");
  // Without --wait: the grid array, then a job with --dependency=afterok on it.
  const CliResult r = run_osteofm("sweep --config '" + (dir / "sweep.json") + "' --out '" + (dir / "sw") + "' --executor slurm");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("submitted grid job array") && Catch::Contains("(2 tasks)") &&
                        Catch::Contains("after the grid"));
  CHECK_THAT(read_text(dir / "sw/slurm/select.sh"), Catch::Contains("sweep --config"));
  // Wait for the queue to drain (the select job submits the seed array before it ends).
  const std::string status = dir / "sw/dinov2-linear/status.json";
  slurm.wait_until([&] { return fs::exists(status) && json::parse(read_text(status), nullptr, false).value("state", "") == "done"; },
                   600, "the selected linear probe's seed run done");
  INFO(read_text(dir / "slurm-state.out"));
  REQUIRE(fs::exists(dir.path / "sw/selection/dinov2-linear.json"));
  CHECK(fs::exists(dir.path / "sw/dinov2-linear/metrics_test.json"));
  CHECK_FALSE(fs::exists(dir.path / "sw/grid/dinov2-linear/g1/metrics_test.json"));
  const json sel = json::parse(read_text(dir / "sw/selection/dinov2-linear.json"));
  CHECK(json::parse(read_text(dir / "sw/dinov2-linear/config.json"))["train"]["lr_head"] == sel["values"]["train.lr_head"]);
}

TEST_CASE("sweep: sbatch runs without a shell, its extra arguments split as words and never executed", "[sweep][image_io]") {
  SweepOptions o;
  o.wait = true;
  o.sbatch_args = "--partition=gpu  --comment='two words' --time=1:00:00";
  CHECK(sbatch_command(o, "/s/array.sh") == std::vector<std::string>({"sbatch", "--parsable", "--wait", "--partition=gpu",
                                                                       "--comment=two words", "--time=1:00:00",
                                                                       "/s/array.sh"}));
  o.wait = false;
  o.sbatch_args = "";
  CHECK(sbatch_command(o, "a.sh") == std::vector<std::string>({"sbatch", "--parsable", "a.sh"}));
  o.sbatch_args = "--comment=$(touch x)";
  CHECK_THROWS_WITH(sbatch_command(o, "a.sh"), Catch::Contains("--sbatch-args") && Catch::Contains("command substitution"));
  o.sbatch_args = "--partition=gpu; touch x";
  CHECK_THROWS_WITH(sbatch_command(o, "a.sh"), Catch::Contains("unquoted"));

  // Through the CLI: before, the arguments went to /bin/sh, which ran the injected command
  // (even with no Slurm installed). Now: one error line, exit 2, nothing run or written.
  TempDir dir;
  const std::string cfg = mini_sweep(dir);
  for (const std::string& args : {"--partition=gpu; touch '" + (dir / "ran") + "'", "--comment=$(touch '" + (dir / "ran") + "')"}) {
    INFO(args);
    std::string quoted = "'";  // for the test's own shell: single quotes, ' as '\''
    for (const char c : args) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    const CliResult r =
        run_osteofm("sweep --config '" + cfg + "' --out '" + (dir / "sw") + "' --executor slurm --sbatch-args=" + quoted);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("osteofm: error: --sbatch-args"));
    CHECK_FALSE(fs::exists(dir / "ran"));
    CHECK_FALSE(fs::exists(dir / "sw"));
  }
}

TEST_CASE("reproduce: a missing or wrong-family checkpoint is refused before anything starts", "[reproduce]") {
  TempDir dir;
  const fs::path fx = shared("fixtures/parity");
  // Two real families at fixture size: DINOv2 (hub names) and RAD-DINO (HF names).
  write_text(dir / "dinov2_arch.json", json::parse(read_text((fx / "dinov2_hub_noreg_A.json").string()))["arch_json"].dump());
  write_text(dir / "raddino_arch.json", json::parse(read_text((fx / "hf_dinov2_A.json").string()))["arch_json"].dump());
  const json study = {
      {"base", {{"train", {{"epochs", 1}}}}},
      {"backbones",
       {{"dinov2", {{"preset", "dinov2-vitb14"}, {"arch", "dinov2_arch.json"}, {"weights", "dinov2-base/model.safetensors"}}},
        {"rad-dino", {{"preset", "rad-dino"}, {"arch", "raddino_arch.json"}, {"weights", "rad-dino/model.safetensors"}}}}},
      {"strategies", {{"linear", {{"name", "linear_probe"}}}}}};
  write_text(dir / "study.json", study.dump());
  write_text(dir / "cohort.csv", "image_id,patient_id,path,t_score\n");
  fs::create_directories(dir.path / "weights");
  const std::string args = " --manifest '" + (dir / "cohort.csv") + "' --out '" + (dir / "out") + "'";
  const std::string with_study = args + " --study '" + (dir / "study.json") + "' --weights-dir '" + (dir / "weights") + "'";

  CliResult r = run_osteofm("reproduce" + with_study);
  INFO(r.err);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("dinov2: " + (dir / "weights/dinov2-base/model.safetensors") + ": no such checkpoint") &&
                        Catch::Contains("rad-dino: " + (dir / "weights/rad-dino/model.safetensors") + ": no such checkpoint") &&
                        Catch::Contains("2 backbone(s) cannot start"));
  CHECK_FALSE(fs::exists(dir.path / "out"));

  // The right DINOv2 checkpoint, and an OpenCLIP one where RAD-DINO's belongs.
  fs::create_directories(dir.path / "weights/dinov2-base");
  fs::create_directories(dir.path / "weights/rad-dino");
  fs::copy_file(fx / "dinov2_hub_noreg_A.safetensors", dir.path / "weights/dinov2-base/model.safetensors");
  fs::copy_file(fx / "openclip_gelu_A.safetensors", dir.path / "weights/rad-dino/model.safetensors");
  r = run_osteofm("reproduce" + with_study);
  INFO(r.err);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("rad-dino: " + (dir / "weights/rad-dino/model.safetensors") + ": ") &&
                        Catch::Contains("missing") && Catch::Contains("1 backbone(s) cannot start"));
  CHECK(r.err.find("dinov2: ") == std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "out"));

  // The paper's study: its checkpoints are names under --weights-dir.
  r = run_osteofm("reproduce" + args);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("give --weights-dir"));
  fs::create_directories(dir.path / "empty");
  r = run_osteofm("reproduce" + args + " --weights-dir '" + (dir / "empty") + "'");
  INFO(r.err);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains((dir / "empty/openclip-vitb16/open_clip_model.safetensors") + ": no such checkpoint") &&
                        Catch::Contains((dir / "empty/CheXagent-8b/model.safetensors.index.json") + ": no such checkpoint") &&
                        Catch::Contains("4 backbone(s) cannot start"));
  CHECK_FALSE(fs::exists(dir.path / "out"));
}

TEST_CASE("reproduce: on Slurm every stage is a job after the one before, from a manifest without a split to the table",
          "[reproduce][slurm][image_io]") {
  TempDir dir;
  REQUIRE(run_osteofm("synth --out '" + (dir / "cohort") + "' --patients 50 --size 112 --seed 4").code == 0);
  // The cohort as a researcher brings it: no split column.
  std::string unsplit;
  for (const auto& line : split_lines(read_text(dir / "cohort/manifest.csv"))) {
    REQUIRE(line.substr(line.rfind(',') + 1).find_first_of("tvs") == 0);  // the last column is the split
    unsplit += line.substr(0, line.rfind(',')) + "\n";
  }
  write_text(dir / "cohort/unsplit.csv", unsplit);
  const json study = {{"base", {{"train", {{"epochs", 2}, {"batch_size", 16}}}}},
                      {"backbones", {{"dinov2", {{"preset", "dinov2-tiny"}}}}},
                      {"strategies", {{"linear", {{"name", "linear_probe"}}}}},
                      {"grid", {{"train.lr_head", {0.0001, 0.03}}}},
                      {"seeds", {1, 2}}};
  write_text(dir / "study.json", study.dump());
  LocalSlurm slurm(dir / "slurm-state");
  const CliResult r = run_osteofm("reproduce --manifest '" + (dir / "cohort/unsplit.csv") + "' --study '" + (dir / "study.json") +
                                  "' --out '" + (dir / "out") + "' --executor slurm --bootstrap 100");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("(prepare: data check, split, tensor caches)") && Catch::Contains("(the sweep:"));
  slurm.wait_until([&] {
        const json state = json::parse(read_text(dir / "out/reproduce.json"), nullptr, false);
        const std::string report = state.is_discarded() ? "" : state["stages"].value("report", json::object()).value("state", "");
        return report == "done" || report == "failed";
      }, 900, "reproduce's report stage done or failed");
  INFO(read_text(dir / "slurm-state.out"));
  const json state = json::parse(read_text(dir / "out/reproduce.json"));
  INFO(state.dump());
  CHECK(state["stages"]["prepare"]["state"] == "done");
  CHECK(state["stages"]["sweep"]["state"] == "submitted");
  REQUIRE(state["stages"]["report"]["state"] == "done");
  // Each stage a job; the sweep's select job hands the report script on to after the seed array.
  CHECK_THAT(read_text(dir / "out/slurm/prepare.sh"), Catch::Contains("reproduce --out") && Catch::Contains("--stage prepare"));
  CHECK_THAT(read_text(dir / "out/sweep/slurm/select.sh"), Catch::Contains("--then") && Catch::Contains("report.sh"));
  // The split made patient-level, the cache at dinov2-tiny's geometry, selection, seeds, explain, table.
  const std::string cohort = read_text(dir / "out/data/cohort.csv");
  CHECK(split_lines(cohort).front().find("split") != std::string::npos);
  CHECK(fs::exists(dir.path / "out/data/check.json"));
  CHECK(fs::exists(dir.path / "out/caches/112-crop/cache.json"));
  CHECK(json::parse(read_text(dir / "out/study.json"))["backbones"]["dinov2"]["data"]["manifest"] == dir / "out/caches/112-crop");
  CHECK(fs::exists(dir.path / "out/sweep/selection/dinov2-linear.json"));
  CHECK(fs::exists(dir.path / "out/sweep/seeds/dinov2-linear/seed-2/metrics_test.json"));
  CHECK(fs::exists(dir.path / "out/sweep/dinov2-linear/explain/explain.json"));
  CHECK_FALSE(fs::exists(dir.path / "out/sweep/compare.json"));  // one variant: nothing to compare
  CHECK_THAT(read_text(dir / "out/sweep/table.md"), Catch::Contains("over seeds"));
  // Both seeds explained; the table's Δbone and IoU_bone are their means, with the CI of the mean.
  CHECK_THAT(read_text(dir / "out/sweep/table.md"), Catch::Contains("are seed means too"));
  {
    const json e1 = json::parse(read_text(dir / "out/sweep/dinov2-linear/explain/explain.json"));
    const json e2 = json::parse(read_text(dir / "out/sweep/seeds/dinov2-linear/seed-2/explain/explain.json"));
    CHECK(fs::exists(dir.path / "out/sweep/seeds/dinov2-linear/seed-2/explain/replicates.csv"));
    CHECK_FALSE(e1["iou_bone"]["all"].contains("_replicates"));  // the replicates live in replicates.csv only
    const CsvTable t = parse_csv(read_text(dir / "out/sweep/table.csv"), "table.csv");
    REQUIRE(t.records.size() == 1);
    const auto cell = [&](const char* name) { return t.records[0].fields.at(static_cast<size_t>(t.column(name))); };
    for (const auto& [column, key] : {std::make_pair("iou_bone", "iou_bone"), std::make_pair("delta_bone", "delta_bone")}) {
      INFO(column);
      if (!e1[key]["all"]["estimate"].is_number()) continue;
      CHECK(std::stod(cell(column)) == Approx((e1[key]["all"]["estimate"].get<double>() +
                                                e2[key]["all"]["estimate"].get<double>()) / 2).margin(1e-12));
    }
  }

  // Resumed when everything has finished: no array runs again (each task would reload its
  // data and predict val and test once more), the report is rebuilt from what is there.
  const auto stamp = fs::last_write_time(dir.path / "out/sweep/seeds/dinov2-linear/seed-2/predictions_test.csv");
  const CliResult again = run_osteofm("reproduce --out '" + (dir / "out") + "' --executor slurm --wait");
  INFO(again.err);
  REQUIRE(again.code == 0);
  CHECK_THAT(again.out, Catch::Contains("every run has finished; nothing submitted"));
  CHECK(again.out.find("submitted job array") == std::string::npos);
  CHECK(fs::last_write_time(dir.path / "out/sweep/seeds/dinov2-linear/seed-2/predictions_test.csv") == stamp);
}

TEST_CASE("sweep: every child is one typed command, as an argv or a batch script line, and executors are objects", "[sweep]") {
  SweepOptions o;
  o.binary = "/opt/osteofm/bin/osteofm";
  o.threads = 3;
  const ChildCommand train = child_command(o, {"train", "--config", "/runs/a b/config.json"});
  REQUIRE(train.words.size() >= 6);
  CHECK(train.words.front() == "/opt/osteofm/bin/osteofm");
  CHECK(std::find(train.words.begin(), train.words.end(), "--threads") != train.words.end());
  CHECK(train.words[train.words.size() - 3] == "train");
  // Plain words stay as typed, the rest is quoted; the script's own variables pass as they are.
  const std::string line = train.script_line(" --out \"$run\"");
  CHECK_THAT(line, Catch::StartsWith("exec /opt/osteofm/bin/osteofm ") && Catch::Contains(" --threads 3 train --config ") &&
                       Catch::Contains("'/runs/a b/config.json'") && Catch::EndsWith(" --out \"$run\""));
  CHECK_THROWS_WITH(child_command(o, {"train", "--out", "a\nb"}).script_line(), Catch::Contains("control character"));
  o.force = true;
  o.sbatch_args = "--partition=gpu --comment='a b'";
  CHECK(slurm_pass_on(o) ==
        std::vector<std::string>({"--executor", "slurm", "--force", "--sbatch-args", "--partition=gpu --comment='a b'"}));
  // One place knows the executors' names.
  o.executor = "ssh";
  CHECK_THROWS_WITH(make_sweep_executor(o), Catch::Equals("--executor must be local or slurm, not 'ssh'"));
  o.executor = "local";
  CHECK(make_sweep_executor(o) != nullptr);
  o.executor = "slurm";
  o.sbatch_args = "--comment=$(touch x)";
  CHECK_THROWS_WITH(make_sweep_executor(o), Catch::Contains("command substitution"));
}
