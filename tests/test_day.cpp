// A researcher's day without dead ends: failed starts that do not block a retry, the device
// outside a run's identity, every numeric field checked up front, a locked run folder,
// a log consistent with its checkpoint, NaN models refused, predict that scores every good
// file and marks the bad ones, sweeps checked before they start and stopped with their
// children. Each case failed before its fix.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/csv.hpp"
#include "core/parallel.hpp"
#include "io/manifest.hpp"
#include "io/safetensors_torch.hpp"
#include "support.hpp"
#include "train/run_folder.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {
std::string cohort(const TempDir& dir, int patients = 60) {
  const CliResult r = run_osteofm("synth --out '" + (dir / "cohort") + "' --patients " + std::to_string(patients) +
                                  " --size 112 --seed 3");
  REQUIRE(r.code == 0);
  return dir / "cohort/manifest.csv";
}
std::string write_config(const TempDir& dir, const std::string& name, const json& c) {
  write_text(dir / name, c.dump());
  return dir / name;
}
json base_config(const std::string& manifest, int epochs = 2) {
  return {{"data", {{"manifest", manifest}}},
          {"backbone", {{"preset", "dinov2-tiny"}, {"seed", 5}}},
          {"strategy", {{"name", "linear_probe"}}},
          {"train", {{"epochs", epochs}, {"batch_size", 16}, {"patience", 10}, {"seed", 2}}}};
}
int dead_pid() {
  const pid_t p = fork();
  if (p == 0) _exit(0);
  int st = 0;
  waitpid(p, &st, 0);
  return p;
}
}  // namespace

TEST_CASE("day: a start that fails on bad input leaves no run behind, so the retry works", "[day][image_io]") {
  TempDir dir;
  const std::string manifest = cohort(dir);
  json c = base_config(manifest);
  c["backbone"]["weights"] = dir / "no-such-weights.safetensors";
  const CliResult bad = run_osteofm("train --config '" + write_config(dir, "bad.json", c) + "' --out '" + (dir / "run") + "'");
  CHECK(bad.code == 2);
  CHECK(count_lines(bad.err) == 1);
  CHECK_FALSE(fs::exists(dir / "run/config.json"));
  // The fixed config runs in the same folder, without --resume.
  c["backbone"].erase("weights");
  const CliResult good = run_osteofm("train --config '" + write_config(dir, "good.json", c) + "' --out '" + (dir / "run") + "'");
  INFO(good.err);
  CHECK(good.code == 0);
  // A folder with a config but no checkpoint (a start that stopped early) is not a run either.
  fs::create_directories(dir.path / "half");
  write_text(dir / "half/config.json", "{\"old\": true}");
  const CliResult half = run_osteofm("train --config '" + (dir / "good.json") + "' --out '" + (dir / "half") + "'");
  INFO(half.err);
  CHECK(half.code == 0);
  CHECK_THAT(half.err, Catch::Contains("no checkpoint yet"));
  // A finished run still needs --resume, and says how.
  const CliResult again = run_osteofm("train --config '" + (dir / "good.json") + "' --out '" + (dir / "run") + "'");
  CHECK(again.code == 2);
  CHECK_THAT(again.err, Catch::Contains("add --resume to continue it"));
}

TEST_CASE("day: the device is not part of a run's identity, a changed key is named", "[day][image_io]") {
  TempDir dir;
  const std::string cfg = write_config(dir, "c.json", base_config(cohort(dir)));
  REQUIRE(run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "' --set train.device=cpu").code == 0);
  const CliResult moved = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "' --resume --set train.device=auto");
  INFO(moved.err);
  CHECK(moved.code == 0);
  CHECK_THAT(moved.out, Catch::Contains("(resumed)"));
  const CliResult changed = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "' --resume --set train.lr_head=0.5");
  CHECK(changed.code == 2);
  CHECK_THAT(changed.err, Catch::Contains("differs from the given config at 'train.lr_head'"));
}

TEST_CASE("day: every numeric field and LoRA setting is checked before training", "[day][image_io]") {
  TempDir dir;
  const std::string cfg = write_config(dir, "c.json", base_config(cohort(dir, 30)));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--set train.patience=0", "train.patience = 0 is outside [1, 100000]"},
      {"--set train.lr_head=-0.001", "train.lr_head = -0.001 is outside (0, 10]"},
      {"--set train.weight_decay=-1", "train.weight_decay = -1 is outside [0, 10]"},
      {"--set train.epochs=2.5", "'train.epochs' must be a whole number, not 2.5"},
      {"--set train.warmup_epochs=5", "train.warmup_epochs (5) is longer than train.epochs (2)"},
      {"--set data.prefetch=-1", "data.prefetch = -1 is outside [0, 1024]"},
      {"--set train.epochs.x=1", "'train.epochs' is a value, not a group of keys"},
      {"--set 'strategy={\"name\":\"lora\",\"dropout\":2.0}'", "lora: dropout must be in [0, 1)"},
      {"--set 'strategy={\"name\":\"lora\",\"rank\":100000}'", "lora: rank 100000 exceeds the model width"},
      {"--set 'strategy={\"name\":\"lora\",\"targets\":[]}'", "lora: targets is empty"},
      {"--set 'strategy={\"name\":\"lora\",\"alpha\":0}'", "lora: alpha must be greater than 0"},
      {"--set 'strategy={\"name\":\"lora\",\"rank\":2.5}'", "rank must be a whole number >= 1, not 2.5"},
  };
  for (const auto& [flag, message] : cases) {
    INFO(flag);
    const CliResult r = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "' " + flag);
    CHECK(r.code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains(message));
    CHECK_FALSE(fs::exists(dir / "run/config.json"));
  }
}

TEST_CASE("day: a pretrained preset never runs on random weights by accident", "[day]") {
  TempDir dir;
  json c = base_config(dir / "any.csv");
  c["backbone"]["preset"] = "dinov2-vitb14";
  const CliResult r = run_osteofm("train --config '" + write_config(dir, "c.json", c) + "' --out '" + (dir / "run") + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("backbone.weights is not given for the pretrained preset 'dinov2-vitb14'") &&
                        Catch::Contains("\"random\""));
  save_safetensors(dir / "x.safetensors", {{"x", torch::zeros({1, 3, 28, 28})}});
  const CliResult e = run_osteofm("embed --backbone dinov2-vitb14 --tensor '" + (dir / "x.safetensors") + "' --out '" +
                                  (dir / "e.safetensors") + "'");
  CHECK(e.code == 2);
  CHECK_THAT(e.err, Catch::Contains("--weights is not given for the pretrained preset"));
  const CliResult ok = run_osteofm("embed --backbone dinov2-vitb14 --weights random --tensor '" + (dir / "x.safetensors") +
                                   "' --out '" + (dir / "e.safetensors") + "'");
  INFO(ok.err);
  CHECK(ok.code == 0);
}

TEST_CASE("day: one trainer per run folder, a crash's lock and temporaries do not block the next", "[day][image_io]") {
  TempDir dir;
  const std::string cfg = write_config(dir, "c.json", base_config(cohort(dir, 30)));
  {
    RunLock held(dir.path / "run");  // as if another trainer were running there
    const CliResult r = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "'");
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("another osteofm process (pid " + std::to_string(getpid()) + ") is training"));
  }
  // Released (as the kernel does when a trainer dies): the stale lock file does not block.
  fs::create_directories(dir.path / "run/checkpoints");
  const std::string stale = dir / ("run/checkpoints/last.safetensors.tmp." + std::to_string(dead_pid()) + ".0");
  write_text(stale, "half a checkpoint");
  const CliResult r = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "'");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_FALSE(fs::exists(stale));
}

TEST_CASE("day: log.jsonl matches the checkpoint after a resume, a failed append is an error", "[day][image_io]") {
  TempDir dir;
  const std::string cfg = write_config(dir, "c.json", base_config(cohort(dir, 30), 3));
  const std::string kill = "OSTEOFM_TEST_KILL_AFTER_STEPS=3 '" + std::string(OSTEOFM_BIN) + "' train --config '" + cfg +
                           "' --out '" + (dir / "run") + "' >/dev/null 2>&1";
  std::system(kill.c_str());
  REQUIRE(fs::exists(dir / "run/checkpoints/last.safetensors"));
  // A line for an epoch the checkpoint does not hold (a kill between the line and the checkpoint).
  std::ofstream(dir / "run/log.jsonl", std::ios::app) << "{\"epoch\": 9, \"train_loss\": 1}\n";
  const CliResult r = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "' --resume");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string log = read_text(dir / "run/log.jsonl");
  CHECK(count_lines(log) == 3);
  int expected = 1;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) CHECK(json::parse(line)["epoch"] == expected++);
  // /dev/full: every write fails with ENOSPC, as on a full disk; the line is never lost silently.
  CHECK_THROWS_WITH(append_json_line("/dev/full", json{{"epoch", 1}}), Catch::Contains("/dev/full: cannot append"));
}

TEST_CASE("day: Ctrl-C stops training at a batch boundary, says how to resume and records 'interrupted'", "[day][image_io]") {
  TempDir dir;
  const std::string cfg = write_config(dir, "c.json", base_config(cohort(dir, 30), 3));
  const std::string cmd = "OSTEOFM_TEST_INTERRUPT_AFTER_STEPS=4 '" + std::string(OSTEOFM_BIN) + "' train --config '" + cfg +
                          "' --out '" + (dir / "run") + "' 2>'" + (dir / "err.txt") + "' >/dev/null";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);  // 128 + SIGINT, as a shell reports it
  const std::string err = read_text(dir / "err.txt");
  CHECK_THAT(err, Catch::Contains("osteofm: interrupted by SIGINT (Ctrl-C): training in ") &&
                      Catch::Contains("--resume'"));
  CHECK(json::parse(read_text(dir / "run/status.json"))["state"] == "interrupted");
  CHECK_FALSE(fs::exists(dir / "run/.lock"));  // the lock goes with its holder
  const CliResult resumed = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "' --resume");
  INFO(resumed.err);
  CHECK(resumed.code == 0);
  CHECK(json::parse(read_text(dir / "run/status.json"))["state"] == "done");
}

TEST_CASE("day: a run checkpoint with a tensor the model lacks or NaN weights is refused, naming the tensor", "[day][image_io]") {
  TempDir dir;
  const std::string cfg = write_config(dir, "c.json", base_config(cohort(dir, 30), 3));
  const std::string kill = "OSTEOFM_TEST_KILL_AFTER_STEPS=3 '" + std::string(OSTEOFM_BIN) + "' train --config '" + cfg +
                           "' --out '" + (dir / "run") + "' >/dev/null 2>&1";
  std::system(kill.c_str());
  const std::string last = dir / "run/checkpoints/last.safetensors";
  REQUIRE(fs::exists(last));
  const std::string kept = read_text(last);
  const std::string resume = "train --config '" + cfg + "' --out '" + (dir / "run") + "' --resume";
  auto tensors = load_safetensors(last);
  auto extra = tensors;
  extra["model.head.extra"] = torch::zeros({2});
  save_safetensors(last, extra);
  const CliResult e = run_osteofm(resume);
  CHECK(e.code == 2);
  CHECK_THAT(e.err, Catch::Contains("holds tensor 'model.head.extra' that this run's model does not train"));
  auto nan = tensors;
  nan.begin()->second = torch::full_like(nan.begin()->second, std::nan(""));
  save_safetensors(last, nan);
  const CliResult n = run_osteofm(resume);
  CHECK(n.code == 2);
  CHECK_THAT(n.err, Catch::Contains("holds NaN or Inf; this checkpoint cannot be resumed from"));
  CHECK(n.err.find("last good checkpoint") == std::string::npos);
  write_text(last, kept);
  const CliResult ok = run_osteofm(resume);
  INFO(ok.err);
  REQUIRE(ok.code == 0);
  // The finished run's best checkpoint: predict refuses the stray tensor before any image.
  const std::string best = dir / "run/checkpoints/best.safetensors";
  auto best_tensors = load_safetensors(best);
  best_tensors["model.stray"] = torch::zeros({1});
  save_safetensors(best, best_tensors);
  const CliResult p = run_osteofm("predict --run '" + (dir / "run") + "' '" + (dir / "cohort/images/PH00001_1.png") + "'");
  CHECK(p.code == 2);
  CHECK_THAT(p.err, Catch::Contains("'model.stray'"));
}

TEST_CASE("day: predict for a screening script: folder and list input, screening columns, a killed batch resumes", "[day][image_io]") {
  TempDir dir;
  const std::string cfg = write_config(dir, "c.json", base_config(cohort(dir, 30)));
  REQUIRE(run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "'").code == 0);
  const std::string images = dir / "cohort/images";
  const CliResult all = run_osteofm("predict --run '" + (dir / "run") + "' --input-dir '" + images + "' --out '" +
                                    (dir / "all.csv") + "'");
  INFO(all.err);
  REQUIRE(all.code == 0);
  const CsvTable t = parse_csv(read_text(dir / "all.csv"), "all.csv");
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(images)) files += e.is_regular_file();
  CHECK(t.records.size() == files);
  // The screening decisions are the run's validation Youden thresholds applied to the scores.
  const json th = json::parse(read_text(dir / "all.csv.thresholds.json"));
  const double t_op = th["endpoints"]["osteoporosis_vs_rest"]["threshold"];
  const double t_low = th["endpoints"]["low_bmd_vs_normal"]["threshold"];
  const json metrics = json::parse(read_text(dir / "run/metrics_test.json"));
  CHECK(t_op == metrics["endpoints"]["osteoporosis_vs_rest"]["thresholds"]["youden"].get<double>());
  for (const auto& r : t.records) {
    const double p0 = std::stod(r.fields[t.column("p_normal")]), p2 = std::stod(r.fields[t.column("p_osteoporosis")]);
    CHECK(r.fields[t.column("screen_osteoporosis")] == (p2 >= t_op ? "1" : "0"));
    CHECK(r.fields[t.column("screen_low_bmd")] == (1.0 - p0 >= t_low ? "1" : "0"));
    CHECK(r.fields[t.column("strategy")] == "linear_probe");
  }
  // A killed batch: OUT.partial holds the first rows (and a torn line); the same command
  // scores only the rest and ends with the same CSV.
  const std::string text = read_text(dir / "all.csv");
  size_t cut = 0;
  for (int i = 0; i < 6; ++i) cut = text.find('\n', cut) + 1;
  write_text(dir / "again.csv.partial", text.substr(0, cut) + "PH0000");
  std::string list = "# the images, one per line\n";
  for (const auto& r : t.records) list += r.fields[t.column("path")] + "\n";
  write_text(dir / "list.txt", list);
  const CliResult resumed = run_osteofm("predict --run '" + (dir / "run") + "' --list '" + (dir / "list.txt") + "' --out '" +
                                        (dir / "again.csv") + "'");
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK_THAT(resumed.err, Catch::Contains("5 rows kept from an interrupted run"));
  // The same rows in the same order; other batches may move the last bits of a probability.
  const CsvTable again = parse_csv(read_text(dir / "again.csv"), "again.csv");
  REQUIRE(again.records.size() == t.records.size());
  for (size_t i = 0; i < t.records.size(); ++i) {
    CHECK(again.records[i].fields[0] == t.records[i].fields[0]);
    CHECK(std::stod(again.records[i].fields[t.column("p_osteoporosis")]) ==
          Approx(std::stod(t.records[i].fields[t.column("p_osteoporosis")])).margin(1e-5));
  }
  CHECK(text.substr(0, cut) == read_text(dir / "again.csv").substr(0, cut));  // the kept rows as they were
  CHECK_FALSE(fs::exists(dir / "again.csv.partial"));
}

TEST_CASE("day: a NaN model is an error, predict scores every good file and marks the others", "[day][image_io]") {
  TempDir dir;
  const std::string cfg = write_config(dir, "c.json", base_config(cohort(dir, 30)));
  REQUIRE(run_osteofm("train --config '" + cfg + "' --out '" + (dir / "run") + "'").code == 0);
  const std::string png = dir / "cohort/images/PH00001_1.png";
  const std::string ct = shared("data/public-cxr/dicom/pydicom/CT_small.dcm");
  ::mkfifo((dir / "fifo.png").c_str(), 0644);
  const CliResult p = run_osteofm("predict --run '" + (dir / "run") + "' '" + png + "' '" + (dir / "missing.png") + "' '" +
                                  ct + "' '" + (dir / "fifo.png") + "' --out '" + (dir / "p.csv") + "'");
  CHECK(p.code == 3);  // some inputs failed, the CSV is complete (2 stays for bad usage)
  CHECK_THAT(p.err, Catch::Contains("3 of 4 inputs could not be scored"));
  CHECK_THAT(p.err, Catch::Contains("DICOM Modality CT is not CR/DX"));
  const std::string csv = read_text(dir / "p.csv");
  CHECK(count_lines(csv) == 5);
  CHECK_THAT(csv, Catch::StartsWith("image_id,patient_id,label,p_normal,p_osteopenia,p_osteoporosis,predicted,screen_osteoporosis,screen_low_bmd,path,status,error,warnings,accession,study_date,run,backbone,strategy,osteofm_version\n"));
  CHECK_THAT(csv, Catch::Contains("missing.png: no such file") && Catch::Contains("not a regular file"));
  // A CT is not scored unless asked: its status says why (it used to get status ok, p = 0.68).
  CHECK_THAT(csv, Catch::Contains(",not_chest_radiograph,DICOM Modality CT is not CR/DX"));
  const CliResult anyway = run_osteofm("predict --run '" + (dir / "run") + "' '" + ct + "' --score-anyway");
  CHECK(anyway.code == 0);
  CHECK_THAT(anyway.out, Catch::Contains(",ok,,DICOM Modality CT is not CR/DX"));

  // NaN weights in the best checkpoint: predict marks every row, explain and the run's numbers refuse.
  auto tensors = load_safetensors(dir / "run/checkpoints/best.safetensors");
  for (auto& [name, t] : tensors) t = torch::full_like(t, std::nan(""));
  save_safetensors(dir / "run/checkpoints/best.safetensors", tensors);
  const CliResult n = run_osteofm("predict --run '" + (dir / "run") + "' '" + png + "'");
  CHECK(n.code == 3);
  CHECK_THAT(n.out, Catch::Contains(",error,the model's probabilities are not finite"));
  const CliResult e = run_osteofm("explain --run '" + (dir / "run") + "' --out '" + (dir / "ex") + "' --bootstrap 10");
  CHECK(e.code == 1);
  CHECK_THAT(e.err, Catch::Contains("probabilities are not finite"));
}

TEST_CASE("day: sweeps check every variant first, keep names inside --out, and stop with their children", "[day][sweep][image_io]") {
  TempDir dir;
  const std::string manifest = cohort(dir, 40);
  json sweep = {{"base", {{"data", {{"manifest", manifest}}}, {"train", {{"epochs", 2}, {"batch_size", 16}}}}},
                {"backbones", {{"dinov2", {{"preset", "dinov2-tiny"}}}, {"rad", {{"preset", "rad-dino-huge"}}}}},
                {"strategies", {{"linear", {{"name", "linear_probe"}}}, {"lora", {{"name", "lora"}, {"targets", {"qq"}}}}}}};
  const std::string bad = write_config(dir, "bad.json", sweep);
  const CliResult check = run_osteofm("sweep --config '" + bad + "' --check");
  CHECK(check.code == 2);
  CHECK_THAT(check.err, Catch::Contains("dinov2-lora: ") && Catch::Contains("unknown target 'qq'"));
  CHECK_THAT(check.err, Catch::Contains("rad-linear: ") && Catch::Contains("rad-dino-huge"));
  CHECK_THAT(check.err, Catch::Contains("3 variant(s) cannot start"));
  const CliResult run = run_osteofm("sweep --config '" + bad + "' --out '" + (dir / "sw") + "'");
  CHECK(run.code == 2);
  CHECK_FALSE(fs::exists(dir / "sw/dinov2-linear"));  // nothing started

  json escape = sweep;
  escape["backbones"] = {{"../../escape", {{"preset", "dinov2-tiny"}}}};
  const CliResult esc = run_osteofm("sweep --config '" + write_config(dir, "esc.json", escape) + "' --out '" + (dir / "sw") + "'");
  CHECK(esc.code == 2);
  CHECK_THAT(esc.err, Catch::Contains("backbones name '../../escape' must be a single folder name"));

  // Killing the sweep (SIGKILL: no chance to clean up) takes its trainer down too.
  json slow = sweep;
  slow["backbones"] = {{"dinov2", {{"preset", "dinov2-tiny"}}}};
  slow["strategies"] = {{"partial", {{"name", "partial"}, {"blocks", 2}}}};
  slow["base"]["train"]["epochs"] = 200;
  slow["base"]["augment"] = {{"enabled", true}};
  const std::string slow_cfg = write_config(dir, "slow.json", slow);
  const std::string out = dir / "killed";
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(OSTEOFM_BIN, OSTEOFM_BIN, "sweep", "--config", slow_cfg.c_str(), "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(out + "/dinov2-partial/log.jsonl") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(fs::exists(out + "/dinov2-partial/log.jsonl"));
  ::kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  // The trainer holds the run lock while it lives: taking it proves it is gone.
  bool released = false;
  for (int i = 0; i < 100 && !released; ++i) {
    try {
      RunLock lock(out + "/dinov2-partial");
      released = true;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  CHECK(released);
}

TEST_CASE("day: one rule for paths: a config's against its folder, the command line's against the current directory", "[day][image_io]") {
  TempDir dir;
  cohort(dir, 30);
  // The config lives in cfg/ with an arch file beside it; the manifest is given on the command line.
  write_text(dir / "cfg/arch.json", R"({"depth": 1})");
  json c = base_config("unused.csv", 1);
  c["backbone"]["arch"] = "arch.json";
  write_config(dir, "cfg/c.json", c);
  const std::string cmd = "cd '" + dir.path.string() + "' && '" + OSTEOFM_BIN +
                          "' train --config cfg/c.json --set data.manifest=cohort/manifest.csv --out runs/a >out.txt 2>err.txt";
  const int rc = std::system(cmd.c_str());
  INFO(read_text(dir / "err.txt"));
  REQUIRE(WEXITSTATUS(rc) == 0);
  const json stored = json::parse(read_text(dir / "runs/a/config.json"));
  CHECK(stored["data"]["manifest"] == (dir.path / "cohort/manifest.csv").string());
  CHECK(stored["backbone"]["arch"] == (dir.path / "cfg/arch.json").string());
  // Stored absolute: the run is explained from another folder.
  const CliResult e = run_osteofm("explain --run '" + (dir / "runs/a") + "' --out '" + (dir / "ex") + "' --bootstrap 10 --overlays 1");
  INFO(e.err);
  CHECK(e.code == 0);
  size_t pngs = 0;
  for (const auto& f : fs::directory_iterator(dir.path / "ex/overlays")) pngs += f.path().extension() == ".png";
  CHECK(pngs > 0);
  // Rerun into the same folder without overlays: the old ones go, they would belong to another run.
  const CliResult again = run_osteofm("explain --run '" + (dir / "runs/a") + "' --out '" + (dir / "ex") + "' --bootstrap 10 --overlays 0");
  REQUIRE(again.code == 0);
  pngs = 0;
  for (const auto& f : fs::directory_iterator(dir.path / "ex/overlays")) pngs += f.path().extension() == ".png";
  CHECK(pngs == 0);
}

TEST_CASE("day: a validation split without a class is flagged by data check and never called an AUC", "[day][image_io]") {
  TempDir dir;
  const std::string manifest = cohort(dir, 60);
  // Relabel every validation osteoporosis row as osteopenia.
  std::string text = read_text(manifest), out;
  std::istringstream lines(text);
  std::string header;
  std::getline(lines, header);
  out = header + "\n";
  // image_id,patient_id,path,mask,t_score,age,split: every validation image made osteopenic.
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
    REQUIRE(f.size() == 7);
    if (f[6] == "val") f[4] = "-1.5";
    std::string joined;
    for (const auto& x : f) joined += (joined.empty() ? "" : ",") + x;
    out += joined + "\n";
  }
  write_text(dir / "cohort/one_class_val.csv", out);
  const CliResult check = run_osteofm("data check '" + (dir / "cohort/one_class_val.csv") + "'");
  CHECK_THAT(check.out, Catch::Contains("the val split has no normal images") &&
                            Catch::Contains("the val split has no osteoporosis images: its macro AUC is undefined"));
  json c = base_config(dir / "cohort/one_class_val.csv", 1);
  const CliResult t = run_osteofm("train --config '" + write_config(dir, "c.json", c) + "' --out '" + (dir / "run") + "'");
  INFO(t.err);
  REQUIRE(t.code == 0);
  CHECK_THAT(t.err, Catch::Contains("best epoch is selected on validation accuracy"));
  CHECK_THAT(t.out, Catch::Contains("best val accuracy"));
  const json status = json::parse(read_text(dir / "run/status.json"));
  CHECK(status["selection_metric"] == "val_accuracy");
  CHECK(status["best_val_auc"].is_null());
}

TEST_CASE("day: --threads reaches osteofm's own pools", "[day]") {
  set_default_threads(3);
  CHECK(resolve_threads(0) == 3);
  CHECK(resolve_threads(5) == 5);
  set_default_threads(0);
  CHECK(resolve_threads(0) == static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST_CASE("day: messages a user can act on, no library words, no stack traces", "[day]") {
  TempDir dir;
  // A batch of zero images: one line naming the tensor, not a LibTorch trace.
  save_safetensors(dir / "empty.safetensors", {{"x", torch::zeros({0, 3, 28, 28})}});
  const CliResult e = run_osteofm("embed --backbone dinov2-tiny --tensor '" + (dir / "empty.safetensors") + "' --out '" +
                                  (dir / "e.safetensors") + "'");
  CHECK(e.code == 2);
  CHECK(count_lines(e.err) == 1);
  CHECK_THAT(e.err, Catch::Contains("tensor 'x' holds no image"));
  // A Latin-1 manifest: named, with the fix, exit 2 (was: exit 1 from the JSON writer).
  write_text(dir / "latin1.csv", "image_id,patient_id,path,t_score\na,Jos\xE9,x.png,-1\n");
  const CliResult l = run_osteofm("data check '" + (dir / "latin1.csv") + "' --json '" + (dir / "c.json") + "'");
  CHECK(l.code == 2);
  CHECK(count_lines(l.err) == 1);
  CHECK_THAT(l.err, Catch::Contains("latin1.csv:2: not UTF-8 text (byte 0xE9)"));
  // data check --json - : the JSON on stdout, the text report on stderr.
  write_text(dir / "ok.csv", "image_id,patient_id,path,t_score\na,P1,x.png,-1\n");
  const CliResult j = run_osteofm("data check '" + (dir / "ok.csv") + "' --json -");
  CHECK(json::parse(j.out, nullptr, false).is_object());
  // A usage error inside a verb points at that verb's help.
  const CliResult u = run_osteofm("eval --bootstrap many");
  CHECK(u.code == 2);
  CHECK_THAT(u.err, Catch::Contains("(run 'osteofm eval --help')"));
  // Range errors give the range people can type (was: "0 to 1.797...e308" written out).
  const CliResult t = run_osteofm("--threads -1 doctor");
  CHECK(t.code == 2);
  CHECK_THAT(t.err, Catch::Contains("not in range 0 to 4096"));
  CHECK(t.err.find("179769313") == std::string::npos);
  // synth --class-mix names its own flag and what the numbers are (was: "--ratios").
  const CliResult mix = run_osteofm("synth --out '" + (dir / "s") + "' --patients 5 --class-mix 0.5,0.5,0.5");
  CHECK(mix.code == 2);
  CHECK_THAT(mix.err, Catch::Contains("--class-mix '0.5,0.5,0.5'"));
  const CliResult two = run_osteofm("synth --out '" + (dir / "s") + "' --patients 5 --class-mix 0.5,0.5");
  CHECK_THAT(two.err, Catch::Contains("normal,osteopenia,osteoporosis"));
}

TEST_CASE("day: phantom ages are whole numbers as people write them", "[day][image_io]") {
  TempDir dir;
  REQUIRE(run_osteofm("synth --out '" + (dir / "ph") + "' --patients 12 --size 64").code == 0);
  CHECK(read_text(dir / "ph/manifest.csv").find("e+") == std::string::npos);
}

TEST_CASE("day: progress as JSON lines where stderr is a log, not a terminal", "[day][image_io]") {
  TempDir dir;
  cohort(dir, 12);
  const std::string cmd = "OSTEOFM_PROGRESS_SECONDS=0 '" + std::string(OSTEOFM_BIN) + "' data cache '" +
                          (dir / "cohort/manifest.csv") + "' --size 64 --out '" + (dir / "cache") + "' 2>'" +
                          (dir / "err.txt") + "' >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  int lines = 0, finals = 0;
  std::istringstream err(read_text(dir / "err.txt"));
  for (std::string line; std::getline(err, line);) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("progress")) continue;
    ++lines;
    CHECK(j["total"] == count_lines(read_text(dir / "cohort/manifest.csv")) - 1);  // every image of the cohort
    finals += j["final"].get<bool>();
  }
  CHECK(lines >= 2);
  CHECK(finals == 1);
  // At the default rate, a short step writes none.
  const std::string quiet = "'" + std::string(OSTEOFM_BIN) + "' data cache '" + (dir / "cohort/manifest.csv") +
                            "' --size 48 --out '" + (dir / "cache48") + "' 2>'" + (dir / "err2.txt") + "' >/dev/null";
  REQUIRE(std::system(quiet.c_str()) == 0);
  CHECK(read_text(dir / "err2.txt").find("\"progress\"") == std::string::npos);
}

TEST_CASE("day: data check --decode warns about images that are not frontal chest radiographs", "[day][image_io]") {
  TempDir dir;
  const std::string root = shared("data/public-cxr");
  write_text(dir / "m.csv", "image_id,patient_id,path,t_score\n"
                            "a,P1," + root + "/nih-chestxray14/torchxrayvision-512/00000001_000.png,-1\n"
                            "b,P2," + root + "/dicom/pydicom/CT_small.dcm,-2\n");
  const CliResult r = run_osteofm("data check '" + (dir / "m.csv") + "' --decode");
  CHECK_THAT(r.out, Catch::Contains("row 2") && Catch::Contains("DICOM Modality CT is not CR/DX"));
  CHECK(r.out.find("row 1: ") == std::string::npos);  // the chest radiograph draws no warning
}

TEST_CASE("day: the same radiograph under two patients: leakage is an error, data split keeps them together", "[day][image_io]") {
  TempDir dir;
  const std::string nih = shared("data/public-cxr/nih-chestxray14");
  fs::copy_file(nih + "/00000001_000.png", dir.path / "copy.png");
  std::string rows = "image_id,patient_id,path,t_score,split\n"
                     "a,P1," + nih + "/00000001_000.png,-1,train\n"
                     "b,P2," + (dir / "copy.png") + ",-2,test\n"                              // the same file again
                     "c,P3," + nih + "/torchxrayvision-512/00000001_000.png,-3,val\n"        // the same film at 512 px
                     "d,P4," + nih + "/00000002_000.png,-1,train\n";
  write_text(dir / "m.csv", rows);
  const CliResult plain = run_osteofm("data check '" + (dir / "m.csv") + "'");
  CHECK(plain.code == 2);  // byte-identical files across splits, found without decoding
  CHECK_THAT(plain.out, Catch::Contains("row 1 (a, patient P1, train) and row 2 (b, patient P2, test) hold the same "
                                        "radiograph (exact copy): leakage between splits"));
  const CliResult decoded = run_osteofm("data check --decode '" + (dir / "m.csv") + "'");
  CHECK(decoded.code == 2);
  CHECK_THAT(decoded.out, Catch::Contains("row 3 (c, patient P3, val) hold the same radiograph (near copy"));
  CHECK(decoded.out.find("(d, patient P4") == std::string::npos);
  // data split: both patients of the identical files in one split, said as a warning.
  const CliResult split = run_osteofm("data split '" + (dir / "m.csv") + "' --out '" + (dir / "s.csv") + "' --seed 3");
  INFO(split.err);
  REQUIRE(split.code == 0);
  CHECK_THAT(split.err, Catch::Contains("hold the same radiograph (exact copy); both patients kept in one split"));
  const Manifest m = read_manifest(dir / "s.csv");
  CHECK(m.rows[0].split == m.rows[1].split);
}

TEST_CASE("day: weights inspect reads an index, names pickles by content and a checkpoint's family", "[day]") {
  TempDir dir;
  const fs::path parity = shared("fixtures/parity");
  // A pickle under a .safetensors name: recognised by its bytes, refused with the conversion.
  write_text(dir / "model.safetensors", std::string("\x80\x04\x95\x10\x00\x00\x00", 7) + "pickle body");
  const CliResult p = run_osteofm("weights inspect '" + (dir / "model.safetensors") + "'");
  CHECK(p.code == 2);
  CHECK(count_lines(p.err) == 1);
  CHECK_THAT(p.err, Catch::Contains("pickled PyTorch checkpoints can execute code") && Catch::Contains("save_file"));
  const CliResult pe = run_osteofm("embed --backbone dinov2-vitb14 --weights '" + (dir / "model.safetensors") +
                                   "' --tensor x.safetensors --out '" + (dir / "e.safetensors") + "'");
  CHECK(pe.code == 2);
  CHECK_THAT(pe.err, Catch::Contains("pickled PyTorch checkpoints can execute code"));
  // A sharded checkpoint's index: every tensor of its shards.
  fs::copy_file(parity / "dinov2_hub_noreg_A.safetensors", dir.path / "shard-1.safetensors");
  json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
  const CliResult plain = run_osteofm("weights inspect --json '" + (dir / "shard-1.safetensors") + "'");
  REQUIRE(plain.code == 0);
  const json listing = json::parse(plain.out);
  for (const auto& t : listing["tensors"]) index["weight_map"][t["name"].get<std::string>()] = "shard-1.safetensors";
  write_text(dir / "model.safetensors.index.json", index.dump());
  const CliResult ix = run_osteofm("weights inspect --json '" + (dir / "model.safetensors.index.json") + "'");
  INFO(ix.err);
  REQUIRE(ix.code == 0);
  const json il = json::parse(ix.out);
  CHECK(il["parameters"] == listing["parameters"]);
  CHECK(il["tensors"].size() == listing["tensors"].size());
  CHECK(il["tensors"][0]["shard"] == "shard-1.safetensors");
  // A DINOv2 checkpoint given to an OpenCLIP preset: the family it looks like, not 150 names.
  const CliResult wrong = run_osteofm("embed --backbone openclip-vitb16 --weights '" +
                                      (parity / "dinov2_hub_noreg_A.safetensors").string() + "' --tensor x.safetensors --out '" +
                                      (dir / "e.safetensors") + "'");
  CHECK(wrong.code == 2);
  CHECK(count_lines(wrong.err) == 1);
  CHECK_THAT(wrong.err, Catch::Contains("no tensor of the openclip vision tower; it looks like a dinov2 checkpoint"));
  // An incomplete CheXagent checkpoint is named as such, not "a dinov2 checkpoint" (dinov2's
  // adapter takes any name, so it must not win the guess; the guess also read a freed list).
  auto chexagent = load_safetensors((parity / "chexagent_vision_A.safetensors").string());
  REQUIRE(chexagent.erase("vision_model.encoder.layers.1.mlp.fc1.weight") == 1);
  fs::create_directories(dir.path / "chexagent");
  save_safetensors((dir.path / "chexagent/model.safetensors").string(), chexagent);
  const CliResult part = run_osteofm("embed --backbone chexagent-8b-vision --weights '" +
                                     (dir / "chexagent/model.safetensors") + "' --tensor x.safetensors --out '" +
                                     (dir / "e.safetensors") + "'");
  CHECK(part.code == 2);
  CHECK(count_lines(part.err) == 1);
  CHECK_THAT(part.err, Catch::Contains("does not fit chexagent-8b-vision: most of the model is missing"));
  CHECK(part.err.find("dinov2") == std::string::npos);
  fs::copy_file(parity / "chexagent_vision_A.config.json", dir.path / "chexagent/config.json");
  const CliResult sized = run_osteofm("embed --backbone chexagent-8b-vision --weights '" +
                                      (dir / "chexagent/model.safetensors") + "' --tensor x.safetensors --out '" +
                                      (dir / "e.safetensors") + "'");
  CHECK(sized.code == 2);
  CHECK_THAT(sized.err, Catch::Contains("1 missing (blocks.1.mlp.fc1.weight [208, 48])"));
}
