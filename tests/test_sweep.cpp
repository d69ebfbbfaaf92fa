// Sweeps: the local executor (skips finished variants) and the Slurm executor against a
// real one-node Slurm started by tests/slurm/local-slurm.sh (not a mock, never skipped).
#include <nlohmann/json.hpp>

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
struct LocalSlurm {
  std::string dir;
  explicit LocalSlurm(const std::string& d) : dir(d) {
    const int rc = std::system(("bash '" + source("tests/slurm/local-slurm.sh") + "' start '" + dir + "' >'" + dir +
                                ".out' 2>&1").c_str());
    if (rc != 0) FAIL("could not start the local Slurm: " << read_text(dir + ".out"));
  }
  ~LocalSlurm() { std::system(("bash '" + source("tests/slurm/local-slurm.sh") + "' stop '" + dir + "'").c_str()); }
};
}  // namespace

TEST_CASE("sweep: local executor runs every variant, skips finished ones, feeds the table", "[sweep][image_io]") {
  TempDir dir;
  const std::string cfg = mini_sweep(dir);
  CliResult r = run_osteofm("sweep --config '" + cfg + "' --out '" + (dir / "sw") + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  check_done(dir, "sw");
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
