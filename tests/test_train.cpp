// Training runs on a small phantom cohort: run folder contents, the feature cache of the
// linear probe, and a run killed with SIGKILL mid-epoch that resumes to the same numbers.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"
#include "data/loader.hpp"
#include "data/cache_index.hpp"
#include "train/config.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {
std::string cohort(const TempDir& dir) {
  const CliResult r = run_osteofm("synth --out '" + (dir / "cohort") + "' --patients 60 --size 112 --seed 3");
  REQUIRE(r.code == 0);
  return dir / "cohort/manifest.csv";
}
std::string config(const TempDir& dir, const std::string& manifest, const json& strategy, int epochs = 3) {
  const json c = {{"data", {{"manifest", manifest}}},
                  {"backbone", {{"preset", "dinov2-tiny"}, {"seed", 5}}},
                  {"strategy", strategy},
                  {"train", {{"epochs", epochs}, {"batch_size", 16}, {"patience", 10}, {"seed", 2}}}};
  const std::string path = dir / ("config_" + strategy["name"].get<std::string>() + ".json");
  write_text(path, c.dump());
  return path;
}
}  // namespace

TEST_CASE("train: a LoRA run killed with SIGKILL mid-epoch resumes to identical results", "[train][image_io]") {
  TempDir dir;
  const std::string manifest = cohort(dir);
  const std::string cfg = config(dir, manifest, {{"name", "lora"}, {"rank", 2}, {"alpha", 4}, {"dropout", 0.1}});
  CliResult full = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "full") + "'");
  INFO(full.err);
  REQUIRE(full.code == 0);
  for (const char* f : {"config.json", "status.json", "log.jsonl", "checkpoints/last.safetensors",
                        "checkpoints/best.safetensors", "predictions_val.csv", "predictions_test.csv", "metrics_test.json"})
    CHECK(fs::exists(dir.path / "full" / f));
  CHECK(json::parse(read_text(dir / "full/status.json"))["state"] == "done");
  CHECK(count_lines(read_text(dir / "full/log.jsonl")) == 3);

  // Train split of this cohort: 4 optimizer steps per epoch; die at step 6 (inside epoch 2).
  const std::string cmd = "OSTEOFM_TEST_KILL_AFTER_STEPS=6 '" + std::string(OSTEOFM_BIN) + "' train --config '" + cfg +
                          "' --out '" + (dir / "killed") + "' >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  CHECK((WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 128 + 9) || WEXITSTATUS(status) == 137));
  CHECK(fs::exists(dir / "killed/checkpoints/last.safetensors"));
  CHECK_FALSE(fs::exists(dir / "killed/predictions_test.csv"));
  for (const auto& e : fs::directory_iterator(dir.path / "killed/checkpoints"))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
  // Without --resume the folder is protected; with it the run finishes.
  CHECK(run_osteofm("train --config '" + cfg + "' --out '" + (dir / "killed") + "'").code == 2);
  CliResult resumed = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "killed") + "' --resume");
  INFO(resumed.err);
  REQUIRE(resumed.code == 0);
  CHECK_THAT(resumed.out, Catch::Contains("(resumed)"));
  CHECK(read_text(dir / "killed/predictions_test.csv") == read_text(dir / "full/predictions_test.csv"));
  json a = json::parse(read_text(dir / "killed/metrics_test.json")), b = json::parse(read_text(dir / "full/metrics_test.json"));
  for (json* m : {&a, &b}) {  // the file paths differ, every number must not
    m->erase("source");
    m->at("validation").erase("source");
    for (auto& [key, endpoint] : m->at("endpoints").items()) endpoint.at("thresholds").erase("validation_source");
  }
  CHECK(a == b);
}

TEST_CASE("train: linear probe caches frozen features and is reproducible, partial fine-tune runs", "[train][image_io]") {
  TempDir dir;
  const std::string manifest = cohort(dir);
  const std::string cfg = config(dir, manifest, {{"name", "linear_probe"}}, 4);
  REQUIRE(run_osteofm("train --config '" + cfg + "' --out '" + (dir / "a") + "'").code == 0);
  size_t cached = 0;
  for (const auto& e : fs::directory_iterator(dir.path / "a/feature_cache")) cached += e.path().extension() == ".safetensors";
  CHECK(cached == 3);  // train, val, test
  REQUIRE(run_osteofm("train --config '" + cfg + "' --out '" + (dir / "b") + "'").code == 0);
  CHECK(read_text(dir / "a/predictions_test.csv") == read_text(dir / "b/predictions_test.csv"));
  CHECK(json::parse(read_text(dir / "a/status.json"))["trainable_parameters"] == 96 * 3 + 3);

  const std::string pcfg = config(dir, manifest, {{"name", "partial"}, {"blocks", 1}}, 2);
  CliResult p = run_osteofm("train --config '" + pcfg + "' --out '" + (dir / "p") + "'");
  INFO(p.err);
  REQUIRE(p.code == 0);
  CHECK(json::parse(read_text(dir / "p/status.json"))["trainable_parameters"].get<int64_t>() > 96 * 3 + 3);
}

TEST_CASE("train: config errors name the key", "[train][image_io]") {
  TempDir dir;
  write_text(dir / "c.json", R"({"data": {"manifest": "m.csv"}, "train": {"epoch": 3}})");
  CHECK_THROWS_WITH(resolve_train_config(dir / "c.json", {}),
                    Catch::Contains("unknown config key 'train.epoch'; did you mean 'train.epochs'?"));
  // The right name in the wrong section; and a name too far from every key gets no guess.
  write_text(dir / "e.json", R"({"data": {"manifest": "m.csv", "epochs": 3}})");
  CHECK_THROWS_WITH(resolve_train_config(dir / "e.json", {}), Catch::Contains("'data.epochs'; did you mean 'train.epochs'?"));
  write_text(dir / "d.json", R"({"data": {"manifest": "m.csv"}})");
  // A --set value of the wrong type is named as the --set it is (was: "d.json: ... wrong type").
  CHECK_THROWS_WITH(resolve_train_config(dir / "d.json", {"train.epochs=abc"}),
                    Catch::Equals("--set 'train.epochs=abc': train.epochs is a number (default 10), not 'abc'"));
  CHECK_THROWS_WITH(resolve_train_config(dir / "d.json", {"data.preload=3"}), Catch::Contains("'data.preload' has the wrong type"));
  // An unknown --set key is the --set's (was: "d.json: unknown config key 'train.lr'").
  CHECK_THROWS_WITH(resolve_train_config(dir / "d.json", {"train.lr=0.1"}),
                    Catch::Equals("--set 'train.lr=0.1': unknown config key 'train.lr' ('osteofm config' lists every key)"));
  CHECK_THROWS_WITH(resolve_train_config(dir / "d.json", {"trian.epochs=2"}),
                    Catch::Equals("--set 'trian.epochs=2': unknown config key 'trian.epochs'; did you mean 'train.epochs'? "
                                  "('osteofm config' lists every key)"));
  // Range bounds as people write them (was: "[1, 1.04858e+06]").
  CHECK_THROWS_WITH(resolve_train_config(dir / "d.json", {"train.batch_size=0"}), Catch::Contains("is outside [1, 1048576]"));
  CHECK_THROWS_WITH(resolve_train_config(dir / "d.json", {"train.warmup_epochs=-1"}), Catch::Contains("is outside [0, inf)"));
  const json ok = resolve_train_config(dir / "d.json", {"train.epochs=7", "strategy={\"name\":\"lora\"}"});
  CHECK(ok["train"]["epochs"] == 7);
  CHECK(ok["strategy"]["name"] == "lora");
  CHECK(ok["data"]["manifest"] == (dir.path / "m.csv").lexically_normal().string());
}

TEST_CASE("train: streaming with prefetch gives the same run as preloading", "[train][image_io]") {
  TempDir dir;
  const std::string manifest = cohort(dir);
  const std::string cfg = config(dir, manifest, {{"name", "partial"}, {"blocks", 1}}, 2);
  REQUIRE(run_osteofm("train --config '" + cfg + "' --out '" + (dir / "pre") + "' --set data.preload=yes").code == 0);
  CliResult s = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "stream") +
                            "' --set data.preload=no --set data.prefetch=2");
  INFO(s.err);
  REQUIRE(s.code == 0);
  CHECK(read_text(dir / "pre/predictions_test.csv") == read_text(dir / "stream/predictions_test.csv"));
  // A radiograph that disappears before streaming reaches it: one line naming the row, exit 2.
  fs::remove(dir.path / "cohort/images/PH00003_1.png");
  CliResult gone = run_osteofm("train --config '" + cfg + "' --out '" + (dir / "gone") + "' --set data.preload=no");
  CHECK(gone.code == 2);
  CHECK_THAT(gone.err, Catch::Contains("row ") && Catch::Contains("PH00003_1.png: no such file"));
}

TEST_CASE("train: the three heads give valid predictions on the phantom, tscore adds the T-score's MAE and r",
          "[train][image_io]") {
  TempDir dir;
  const std::string manifest = cohort(dir);
  std::map<std::string, json> metrics;
  for (const std::string head : {"softmax", "ordinal", "tscore"}) {
    INFO(head);
    json c = json::parse(read_text(config(dir, manifest, {{"name", "partial"}, {"blocks", 1}}, 4)));
    c["head"] = {{"type", head}};
    c["train"]["lr_head"] = 0.01;
    c["train"]["lr_body"] = 0.003;
    write_text(dir / (head + ".json"), c.dump());
    const CliResult r = run_osteofm("train --config '" + (dir / (head + ".json")) + "' --out '" + (dir / head) + "'");
    INFO(r.err);
    REQUIRE(r.code == 0);
    // The same predictions CSV for every head: read back strictly (probabilities in [0,1]
    // summing to 1), and eval, compare and table read it unchanged.
    const CliResult e = run_osteofm("eval --run '" + (dir / head) + "' --bootstrap 200 --out '" + (dir / (head + "_eval.json")) + "'");
    INFO(e.err);
    REQUIRE(e.code == 0);
    metrics[head] = json::parse(read_text(dir / (head + "/metrics_test.json")));
    if (std::getenv("OSTEOFM_PRINT_VALIDATION"))
      std::printf("head %-8s test macro AUC %.3f, quadratic kappa %.3f\n", head.c_str(),
                  metrics[head]["auc_macro"]["estimate"].get<double>(),
                  metrics[head]["multiclass"]["kappa_quadratic"].get<double>());
  }
  CHECK_FALSE(metrics["softmax"].contains("t_score"));
  CHECK_FALSE(metrics["ordinal"].contains("t_score"));
  const std::string preds = read_text(dir / "tscore/predictions_test.csv");
  CHECK_THAT(preds.substr(0, preds.find('\n')), Catch::EndsWith("t_score,t_score_pred,t_score_pred_sd"));
  const json& t = metrics["tscore"]["t_score"];
  REQUIRE(t.is_object());
  CHECK(t["n"].get<int>() > 0);
  const double mae = t["mae"]["estimate"];
  CHECK(mae > 0);
  CHECK(t["mae"]["ci"][0].get<double>() <= mae);
  CHECK(t["mae"]["ci"][1].get<double>() >= mae);
  CHECK(t["pearson_r"]["estimate"].get<double>() >= -1);
  CHECK(t["pearson_r"]["estimate"].get<double>() <= 1);
  if (std::getenv("OSTEOFM_PRINT_VALIDATION"))
    std::printf("tscore head: T-score MAE %.3f [%.3f, %.3f], Pearson r %.3f [%.3f, %.3f]\n", mae,
                t["mae"]["ci"][0].get<double>(), t["mae"]["ci"][1].get<double>(), t["pearson_r"]["estimate"].get<double>(),
                t["pearson_r"]["ci"][0].get<double>(), t["pearson_r"]["ci"][1].get<double>());
  // The same MAE from the CSV by hand.
  const CsvTable csv = parse_csv(preds, "predictions_test.csv");
  double sum = 0;
  int n = 0;
  for (const auto& rec : csv.records) {
    const std::string truth = rec.fields[csv.column("t_score")];
    if (truth.empty()) continue;
    sum += std::fabs(std::stod(rec.fields[csv.column("t_score_pred")]) - std::stod(truth));
    ++n;
  }
  CHECK(n == t["n"].get<int>());
  CHECK(mae == Approx(sum / n).margin(1e-12));
  // predict gives the same regression columns, and eval reads them from its CSV.
  const CliResult pr = run_osteofm("predict --run '" + (dir / "tscore") + "' --data '" + manifest + "' --split test --out '" +
                                   (dir / "predicted.csv") + "'");
  INFO(pr.err);
  REQUIRE(pr.code == 0);
  const std::string predicted = read_text(dir / "predicted.csv");
  CHECK_THAT(predicted.substr(0, predicted.find('\n')), Catch::EndsWith("t_score,t_score_pred,t_score_pred_sd"));
  const CliResult pe = run_osteofm("eval --predictions '" + (dir / "predicted.csv") + "' --bootstrap 50 --out '" +
                                   (dir / "predicted_eval.json") + "'");
  INFO(pe.err);
  REQUIRE(pe.code == 0);
  CHECK_THAT(pe.out, Catch::Contains("T-score MAE"));
  CHECK(json::parse(read_text(dir / "predicted_eval.json"))["t_score"]["mae"]["estimate"].get<double>() ==
        Approx(mae).margin(1e-5));

  // Refusals before training: an unknown head type; a tscore head without T-scores.
  json bad = json::parse(read_text(dir / "tscore.json"));
  bad["head"]["type"] = "coral";
  write_text(dir / "bad.json", bad.dump());
  CliResult r = run_osteofm("train --config '" + (dir / "bad.json") + "' --out '" + (dir / "bad") + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("head.type must be softmax, ordinal or tscore, not 'coral'"));
  std::string labels_only = "image_id,patient_id,path,label,split\n";
  const CsvTable m = parse_csv(read_text(manifest), "m");
  for (const auto& rec : m.records) {
    const int label = who_label(std::stod(rec.fields[m.column("t_score")]));
    labels_only += rec.fields[m.column("image_id")] + "," + rec.fields[m.column("patient_id")] + "," +
                   (fs::path(manifest).parent_path() / rec.fields[m.column("path")]).string() + "," + std::to_string(label) +
                   "," + rec.fields[m.column("split")] + "\n";
  }
  write_text(dir / "labels_only.csv", labels_only);
  bad = json::parse(read_text(dir / "tscore.json"));
  bad["data"]["manifest"] = dir / "labels_only.csv";
  write_text(dir / "bad.json", bad.dump());
  r = run_osteofm("train --config '" + (dir / "bad.json") + "' --out '" + (dir / "bad2") + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("labels_only.csv") && Catch::Contains("head.type tscore regresses the DXA T-score"));
  CHECK_FALSE(fs::exists(dir.path / "bad2" / "config.json"));
}

// A split's prefetch thread used to read the SplitData it was started on. A copy shared it,
// and kept it reading after the original was gone; a move emptied the vectors it was
// reading. Now a copy or a move starts without an epoch, and the prefetcher reads a copy of
// its own.
TEST_CASE("loader: a running epoch never travels with a copy or a move of its split", "[train][image_io]") {
  TempDir dir;
  const Manifest m = load_manifest(cohort(dir));
  Preprocessing pre;
  pre.size = 56;
  // Copied while the first batch decodes, the original then gone; 30 rounds, as a race
  // shows now and then only.
  for (int round = 0; round < 30; ++round) {
    auto original = std::make_unique<SplitData>(load_split(m, "train", pre, 1, "no"));
    REQUIRE(original->size() > 4);
    original->begin_epoch({0, 1, 2, 3}, 2, 2);
    SplitData early = *original;
    original.reset();  // the original gone while its epoch was still prefetching
    CHECK_THROWS_WITH(early.next_batch(), Catch::Contains("before begin_epoch"));
  }
  // Moved while its epoch's second batch decodes: the move emptied the paths the producer
  // was reading (a SegFault now and then, before the prefetcher read its own copy).
  for (int round = 0; round < 30; ++round) {
    SplitData copy = load_split(m, "train", pre, 1, "no");
    copy.begin_epoch({0, 1, 2, 3}, 2, 2);
    CHECK(copy.next_batch().size(0) == 2);
    SplitData moved = std::move(copy);
    CHECK_THROWS_WITH(moved.next_batch(), Catch::Contains("before begin_epoch"));
    moved.begin_epoch({3, 2}, 2, 1);
    CHECK(moved.next_batch().size(0) == 2);
  }
}
