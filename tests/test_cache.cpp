// Tensor cache: built from a phantom's files (image builds), resumed after an interruption,
// bad images recorded; and, in every build (also OSTEOFM_WITH_IMAGE_IO=OFF), a cache made
// from in-memory pixels that train, eval, explain and predict read as they read a manifest.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "core/resample.hpp"
#include "data/tensor_cache.hpp"
#include "io/safetensors_torch.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {
std::string train_config(const TempDir& dir, const std::string& data, const std::string& name, int epochs = 2) {
  const json c = {{"data", {{"manifest", data}}},
                  {"backbone", {{"preset", "dinov2-tiny"}, {"seed", 5}}},
                  {"head", {{"feature", "cls_mean"}}},
                  {"strategy", {{"name", "partial"}, {"blocks", 4}}},
                  {"augment", {{"enabled", false}}},
                  {"train", {{"epochs", epochs}, {"batch_size", 16}, {"patience", 20}, {"seed", 2}}}};
  const std::string path = dir / (name + ".json");
  write_text(path, c.dump());
  return path;
}
}  // namespace

TEST_CASE("cache: training from a cache gives the predictions of training from its manifest", "[cache][image_io]") {
  TempDir dir;
  REQUIRE(run_osteofm("synth --out '" + (dir / "cohort") + "' --patients 40 --size 128 --seed 7").code == 0);
  const CliResult c = run_osteofm("data cache '" + (dir / "cohort/manifest.csv") + "' --size 112 --out '" + (dir / "cache") + "'");
  INFO(c.err);
  REQUIRE(c.code == 0);
  CHECK_THAT(c.err, !Catch::Contains("Warning"));  // was: LibTorch's interpolate warning, once per mask
  for (const char* f : {"cache.json", "index.csv", "build.json", "regions.json", "shard-00000.safetensors"})
    CHECK(fs::exists(dir.path / "cache" / f));
  // The stored pixels are the 16-bit image the decoder path feeds the model.
  auto cache = TensorCache::open(dir / "cache");
  CHECK(cache->size() == 112);
  CHECK(cache->mask(0).max().item<int>() > 0);

  const CliResult a = run_osteofm("train --config '" + train_config(dir, dir / "cohort/manifest.csv", "m") + "' --out '" + (dir / "from_manifest") + "'");
  const CliResult b = run_osteofm("train --config '" + train_config(dir, dir / "cache", "c") + "' --out '" + (dir / "from_cache") + "'");
  INFO(a.err << b.err);
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  CHECK(read_text(dir / "from_manifest/predictions_test.csv") == read_text(dir / "from_cache/predictions_test.csv"));
  CHECK(read_text(dir / "from_manifest/predictions_val.csv") == read_text(dir / "from_cache/predictions_val.csv"));

  // predict: image files (phantom PNGs and a real DICOM) to stdout; a bad file names itself.
  const std::string dcm = shared("data/public-cxr/dicom/siim-acr-via-torchxrayvision/1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm");
  const CliResult p = run_osteofm("predict --run '" + (dir / "from_manifest") + "' '" + (dir / "cohort/images/PH00001_1.png") +
                                  "' '" + dcm + "'");
  INFO(p.err);
  REQUIRE(p.code == 0);
  CHECK(count_lines(p.out) == 3);
  CHECK(p.out.rfind("image_id,patient_id,label,p_normal,p_osteopenia,p_osteoporosis,predicted,screen_osteoporosis,screen_low_bmd,path,status,error,warnings,accession,study_date,run,backbone,strategy,osteofm_version\n", 0) == 0);
  CHECK(p.out.find("8323329.6904.1517875201.850819.dcm") != std::string::npos);
  // The probabilities are the run's: the same image through predict and through the run's predictions.
  const CliResult q = run_osteofm("predict --run '" + (dir / "from_manifest") + "' --data '" + (dir / "cache") + "' --out '" +
                                  (dir / "p.csv") + "'");
  REQUIRE(q.code == 0);
  const auto test_pred = read_text(dir / "from_manifest/predictions_test.csv");
  const auto nl = test_pred.find('\n');
  const std::string first_test = test_pred.substr(nl + 1, test_pred.find('\n', nl + 1) - nl - 1);
  const std::string id = first_test.substr(0, first_test.find(','));
  const std::string all = read_text(dir / "p.csv");
  const auto at = all.find("\n" + id + ",");
  REQUIRE(at != std::string::npos);
  const auto line = all.substr(at + 1, all.find('\n', at + 1) - at - 1);
  const auto probs_in = [](const std::string& l, int skip) {
    std::vector<double> v;
    size_t pos = 0;
    for (int i = 0; i < skip; ++i) pos = l.find(',', pos) + 1;
    for (int k = 0; k < 3; ++k) {
      v.push_back(std::stod(l.substr(pos)));
      pos = l.find(',', pos) + 1;
    }
    return v;
  };
  const auto a1 = probs_in(line, 3), a2 = probs_in(first_test, 3);
  for (int k = 0; k < 3; ++k) CHECK(a1[k] == Approx(a2[k]).margin(1e-6));
  const CliResult missing = run_osteofm("predict --run '" + (dir / "from_manifest") + "' '" + (dir / "nope.png") + "'");
  CHECK(missing.code == 3);  // an input that failed: its row says why, the exit code says some did
  CHECK(missing.err.find("nope.png") != std::string::npos);

  // data check reads a cache too.
  CHECK(run_osteofm("data check '" + (dir / "cache") + "'").code == 0);
  // Another manifest into the same folder is refused.
  write_text(dir / "other.csv", "image_id,patient_id,path,label\nx,p,cohort/images/PH00001_1.png,0\n");
  const CliResult other = run_osteofm("data cache '" + (dir / "other.csv") + "' --size 112 --out '" + (dir / "cache") + "'");
  CHECK(other.code == 2);
  CHECK(other.err.find("another manifest") != std::string::npos);

  // A cache of another field of view (DINOv2's 0.875 crop) is refused by predict, not resized.
  const CliResult crop = run_osteofm("data cache '" + (dir / "cohort/manifest.csv") + "' --preset dinov2-vitb14 --size 112 --out '" +
                                     (dir / "cache875") + "'");
  INFO(crop.err);
  REQUIRE(crop.code == 0);
  CHECK(TensorCache::open(dir / "cache875")->geometry().resize_size() == 128);
  const CliResult refused = run_osteofm("predict --run '" + (dir / "from_manifest") + "' --data '" + (dir / "cache875") + "'");
  CHECK(refused.code == 2);
  CHECK_THAT(refused.err, Catch::Contains("cache875") && Catch::Contains("another field of view"));
  const json pre = json::parse(read_text(dir / "from_manifest/preprocessing.json"));
  CHECK(pre["size"] == 112);
  CHECK(pre["resize"] == 112);
  CHECK(pre["fit"] == "crop");
}

TEST_CASE("resample: nearest-exact equals LibTorch's kernel for every size pair tried", "[cache]") {
  namespace F = torch::nn::functional;
  torch::manual_seed(3);
  for (const int64_t in : {1, 2, 3, 7, 64, 100, 128, 224, 255, 518, 1000})
    for (const int64_t out : {1, 3, 8, 14, 37, 64, 112, 224, 256, 518}) {
      const auto x = torch::randint(0, 256, {1, 1, in, in + 1}, torch::kFloat32);
      const auto reference = F::interpolate(
          x, F::InterpolateFuncOptions().size(std::vector<int64_t>{out, out + 2}).mode(torch::kNearestExact));
      INFO(in << " -> " << out);
      CHECK(torch::equal(resize_nearest_exact(x, out, out + 2), reference));
    }
}

TEST_CASE("cache: an interrupted build continues, undecodable images are recorded and refused by name", "[cache][image_io]") {
  TempDir dir;
  REQUIRE(run_osteofm("synth --out '" + (dir / "cohort") + "' --patients 30 --size 96 --seed 8").code == 0);
  // Tiny shards: several of them.
  const std::string cmd = "data cache '" + (dir / "cohort/manifest.csv") + "' --size 64 --shard-mb 0.2 --out '" + (dir / "cache") + "'";
  REQUIRE(run_osteofm(cmd).code == 0);
  const std::string shard1 = read_text(dir / "cache/shard-00001.safetensors");
  // An interruption: the last shards and the index never written.
  fs::remove(dir.path / "cache/cache.json");
  fs::remove(dir.path / "cache/index.csv");
  fs::remove(dir.path / "cache/shard-00002.safetensors");
  CHECK(run_osteofm("data check '" + (dir / "cache") + "'").code == 2);  // not a finished cache
  const CliResult again = run_osteofm(cmd);
  INFO(again.out << again.err);
  REQUIRE(again.code == 0);
  CHECK(again.out.find(" kept from before") != std::string::npos);
  CHECK(again.out.find(" 0 kept") == std::string::npos);
  CHECK(read_text(dir / "cache/shard-00001.safetensors") == shard1);
  CHECK(fs::exists(dir.path / "cache/shard-00002.safetensors"));

  // A truncated PNG: recorded in the index, exit 2 naming the row; training refuses it.
  const std::string victim = dir / "cohort/images/PH00003_1.png";
  const std::string bytes = read_text(victim);
  write_text(victim, bytes.substr(0, bytes.size() / 2));
  const CliResult bad = run_osteofm("data cache '" + (dir / "cohort/manifest.csv") + "' --size 64 --out '" + (dir / "cache2") + "'");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("PH00003_1.png") != std::string::npos);
  CHECK(read_text(dir / "cache2/index.csv").find("cannot decode PNG") != std::string::npos);
  const CliResult t = run_osteofm("train --config '" + train_config(dir, dir / "cache2", "t") + "' --out '" + (dir / "run") + "'");
  CHECK(t.code == 2);
  CHECK(t.err.find("not in the cache") != std::string::npos);
  // The image fixed, the rerun (as the error says) decodes the failed row again.
  write_text(victim, bytes);
  const CliResult fixed = run_osteofm("data cache '" + (dir / "cohort/manifest.csv") + "' --size 64 --out '" + (dir / "cache2") + "'");
  INFO(fixed.err);
  CHECK(fixed.code == 0);
  CHECK(read_text(dir / "cache2/index.csv").find("cannot decode PNG") == std::string::npos);
}

// In-memory pixels: a "spine" band whose brightness falls with the class, "lungs" beside it.
TEST_CASE("cache: train, eval, explain and predict from a cache made without any image library", "[cache]") {
  TempDir dir;
  const int n = 96;
  std::string manifest = "image_id,patient_id,path,label,split,mask\n";
  for (int i = 0; i < n; ++i) {
    const int label = i % 3;
    const char* split = i < 60 ? "train" : i < 75 ? "val" : "test";
    manifest += "img" + std::to_string(i) + ",pat" + std::to_string(i) + ",none/img" + std::to_string(i) + ".png," +
                std::to_string(label) + "," + split + ",none/mask" + std::to_string(i) + ".png\n";
  }
  write_text(dir / "manifest.csv", manifest);
  write_text(dir / "regions.json", R"({"spine": 1, "ribs": 2, "lungs": 32})");
  CacheOptions opt;
  opt.size = 112;
  const CacheSummary s = build_tensor_cache_with(dir / "manifest.csv", dir / "cache", opt, [](const ManifestRow& r, const Preprocessing& g) {
    CachedRow out;
    const int S = g.size;
    out.orig_width = out.orig_height = S;
    out.image.assign(S * S, 0);
    out.mask.assign(S * S, 0);
    SplitMix64 rng(static_cast<uint64_t>(r.row) * 7919);
    const double bone = 0.85 - 0.2 * r.label;
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        double v = 0.3;
        uint8_t m = 0;
        if (x >= S / 2 - 10 && x < S / 2 + 10) v = bone, m = 1;
        else if (y > S / 6 && y < 5 * S / 6 && (x < S / 2 - 16 || x >= S / 2 + 16)) v = 0.15, m = 32;
        if (m == 32 && y % 14 < 4) v = 0.5, m |= 2;  // ribs cross the lungs
        v += 0.05 * (rng.uniform() - 0.5);
        out.image[y * S + x] = static_cast<uint16_t>(std::lround(std::clamp(v, 0.0, 1.0) * 65535));
        out.mask[y * S + x] = m;
      }
    return out;
  });
  REQUIRE(s.images == static_cast<size_t>(n));
  REQUIRE(s.failed == 0);
  CHECK(fs::exists(dir.path / "cache/regions.json"));

  const CliResult t = run_osteofm("train --config '" + train_config(dir, dir / "cache", "t", 4) + "' --out '" + (dir / "run") + "'");
  INFO(t.err);
  REQUIRE(t.code == 0);
  const json m = json::parse(read_text(dir / "run/metrics_test.json"));
  CHECK(m["auc_macro"]["estimate"].get<double>() > 0.8);
  const CliResult e = run_osteofm("eval --run '" + (dir / "run") + "' --bootstrap 200 --out '" + (dir / "metrics.json") + "'");
  CHECK(e.code == 0);

  const CliResult x = run_osteofm("explain --run '" + (dir / "run") + "' --out '" + (dir / "run/explain") + "' --bootstrap 200 --overlays 1");
  INFO(x.err);
  REQUIRE(x.code == 0);
  const json ex = json::parse(read_text(dir / "run/explain/explain.json"));
  CHECK(ex["n"] == 21);
  for (const char* k : {"spine", "ribs", "lungs"}) CHECK(ex["iou_bone"]["per_region"].contains(k));
  CHECK(ex["regions"]["controls"] == json::array({"lungs"}));
  // The model can only read the spine band: hiding all bones costs AUC, keeping the spine restores it.
  CHECK(ex["delta_bone"]["all"]["estimate"].get<double>() > 0.2);
  CHECK(ex["delta_bone"]["per_region"]["spine"]["estimate"].get<double>() > 0.2);
  // The largest add-back, paired against the runner-up: AUC(all but spine occluded) − AUC(all
  // but ribs occluded), whose estimate is the difference of the two add-backs' estimates.
  const json& largest = ex["delta_bone"]["largest_add_back"];
  CHECK(largest["region"] == "spine");
  CHECK(largest["runner_up"] == "ribs");
  CHECK(largest["minus_runner_up"]["estimate"].get<double>() ==
        Approx(ex["delta_bone"]["per_region"]["spine"]["estimate"].get<double>() -
               ex["delta_bone"]["per_region"]["ribs"]["estimate"].get<double>()).margin(1e-12));
  CHECK(count_lines(read_text(dir / "run/explain/per_image.csv")) == 22);
#if !OSTEOFM_WITH_IMAGE_IO
  CHECK(ex["files"].contains("overlays_skipped"));
#else
  CHECK(ex["files"]["overlays"].size() == 3);
#endif

  const CliResult p = run_osteofm("predict --run '" + (dir / "run") + "' --data '" + (dir / "cache") + "' --split test");
  INFO(p.err);
  REQUIRE(p.code == 0);
  CHECK(count_lines(p.out) == 22);
  CHECK(p.out.rfind("image_id,patient_id,label,p_normal,p_osteopenia,p_osteoporosis,predicted,screen_osteoporosis,screen_low_bmd,path,status,error,warnings,accession,study_date,run,backbone,strategy,osteofm_version\n", 0) == 0);
  // The table picks the explain scores up.
  const CliResult tb = run_osteofm("table '" + dir.path.string() + "' --format csv");
  INFO(tb.err);
  CHECK(tb.code == 0);
}
