// Explainability: Grad-CAM against pytorch-grad-cam's output (fixture gradcam_dinov2_A,
// through `osteofm gradcam`, the user's path), IoU and occlusion on known masks.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "core/error.hpp"
#include "explain/explain.hpp"
#include "explain/deletion.hpp"
#include "explain/gradcam.hpp"
#include "explain/occlusion_control.hpp"
#include "explain/reference_maps.hpp"
#include "explain/rollout.hpp"
#include "explain/saliency_map.hpp"
#include "sweep/sweep.hpp"
#include "data/regions.hpp"
#include "io/image.hpp"
#include "models/embed.hpp"
#include "train/config.hpp"
#include "train/run_model.hpp"
#include "io/safetensors_torch.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

TEST_CASE("gradcam: cam, cam_grid and logits match pytorch-grad-cam within the fixture tolerance", "[explain][parity]") {
  const fs::path dir = shared("fixtures/parity");
  const json fx = json::parse(read_text((dir / "gradcam_dinov2_A.json").string()));
  TempDir tmp;
  write_text(tmp / "arch.json", fx.at("arch_json").dump());
  auto gradcam = [&](const std::string& head, const std::string& extra, const std::string& out) {
    return run_osteofm("gradcam --backbone dinov2-vitb14 --arch '" + (tmp / "arch.json") + "' --weights '" +
                       (dir / "dinov2_hub_noreg_A.safetensors").string() + "' --head '" + head + "' --tensor '" +
                       (dir / "inputs.safetensors").string() + ":pixel_values_224_imagenet' " + extra + " --out '" +
                       (tmp / out) + "'");
  };
  const std::string head = (dir / "gradcam_dinov2_A.safetensors").string();
  // Both fixture inputs in one batch: the second is the fixture's image, the first checks
  // that batching does not mix images.
  const CliResult r = gradcam(head, "--class 2 --batch 2", "cam.safetensors");
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto got = load_safetensors(tmp / "cam.safetensors");
  auto expected = load_safetensors((dir / "gradcam_dinov2_A.expected.safetensors").string());
  const auto& tol = fx.at("tolerance").at("per_output");
  for (const std::string key : {"cam", "cam_grid", "logits"}) {
    const auto y = got.at(key).slice(0, 1, 2);
    const auto e = expected.at(key);
    REQUIRE(y.sizes() == e.sizes());
    const double diff = (y - e).abs().max().item<double>();
    const double allowed = tol.at(key).at("max_abs_diff").get<double>();
    INFO(key << ": max abs diff " << diff << ", allowed " << allowed);
    CHECK(diff <= allowed);
  }
  // The first image alone gives the same CAM as inside the batch.
  const CliResult one = gradcam(head, "--class 2 --batch 1", "one.safetensors");
  REQUIRE(one.code == 0);
  auto single = load_safetensors(tmp / "one.safetensors");
  CHECK((single.at("cam") - got.at("cam")).abs().max().item<double>() < 1e-5);
  // Class names as explain --target takes them; an index the head does not have is refused.
  const CliResult named = gradcam(head, "--class osteoporosis --batch 2", "named.safetensors");
  INFO(named.err);
  REQUIRE(named.code == 0);
  CHECK(torch::equal(load_safetensors(tmp / "named.safetensors").at("cam"), got.at("cam")));
  const CliResult beyond = gradcam(head, "--class 7", "x.safetensors");
  CHECK(beyond.code == 2);
  CHECK_THAT(beyond.err, Catch::Contains("--class must be pred, a class index 0..2"));
  // A wrong target class is a different map (the test can fail).
  const CliResult other = gradcam(head, "--class 0", "c0.safetensors");
  REQUIRE(other.code == 0);
  CHECK((load_safetensors(tmp / "c0.safetensors").at("cam").slice(0, 1, 2) - expected.at("cam")).abs().max().item<double>() >
        0.05);
  // Bad input: a head of the wrong width names the tensor, exit 2.
  save_safetensors(tmp / "bad_head.safetensors", {{"head.weight", torch::zeros({3, 7})}, {"head.bias", torch::zeros({3})}});
  const CliResult bad = gradcam(tmp / "bad_head.safetensors", "--class 2", "x.safetensors");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("head.weight") != std::string::npos);
}

TEST_CASE("data masks: real V7 Labs lung masks become bit-coded region masks, IoU on them is exact", "[explain][image_io]") {
  TempDir tmp;
  const std::string pairs = shared("data/public-cxr/v7labs-lung-masks/pairs.csv");
  // pairs.csv's paths are relative to public-cxr/, one folder up from the CSV: by the
  // rule (paths in a file resolve against its folder) they are not found, and the message
  // says how to name the root.
  const CliResult lost = run_osteofm("data masks '" + pairs + "' --map 255=lungs --out '" + (tmp / "lost") + "'");
  CHECK(lost.code == 2);
  CHECK_THAT(lost.err, Catch::Contains("pairs.csv:2: row 1") && Catch::Contains("--root DIR"));
  const CliResult r = run_osteofm("data masks '" + pairs + "' --root '" + shared("data/public-cxr") +
                                  "' --map 255=lungs --out '" + (tmp / "out") + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("20 masks") != std::string::npos);
  const json regions = json::parse(read_text(tmp / "out/regions.json"));
  CHECK(regions["bits"]["lungs"] == 32);
  CHECK(regions["controls"] == json::array({"lungs"}));
  const auto table = parse_region_table(read_text(tmp / "out/regions.json"), "regions.json");
  CHECK(table.bones().empty());
  CHECK(table.controls().size() == 1);

  // Every converted mask: bit 32 exactly where V7 drew lung (255); 127 (ignore) and 0 -> 0.
  size_t checked = 0;
  for (const auto& entry : fs::directory_iterator(shared("data/public-cxr/v7labs-lung-masks/semantic-masks"))) {
    int w = 0, h = 0, w2 = 0, h2 = 0;
    const auto src = read_png_u8(entry.path().string(), &w, &h);
    const auto dst = read_png_u8(tmp / ("out/masks/" + entry.path().filename().string()), &w2, &h2);
    REQUIRE(w == w2);
    REQUIRE(h == h2);
    size_t wrong = 0, lung = 0;
    for (size_t i = 0; i < src.size(); ++i) {
      wrong += dst[i] != (src[i] == 255 ? 32 : 0);
      lung += src[i] == 255;
    }
    CHECK(wrong == 0);
    CHECK(lung > src.size() / 10);  // a real lung field
    ++checked;

    // IoU on the real mask at model size: against itself (1 under both policies), against
    // its mirror image (counted independently here).
    Preprocessing pre;
    pre.size = 224;
    const auto m = resize_mask(dst.data(), h2, w2, pre);
    const auto cam = m.ne(0).to(torch::kFloat32);
    const auto sorted = std::get<0>(cam.flatten().sort(0, true));
    const RegionScore self = score_region(cam, sorted, m, 32, 0.5);
    CHECK(self.iou_topk == Approx(1.0));
    CHECK(self.iou_fixed == Approx(1.0));
    CHECK(self.cam_share == Approx(1.0));
    const auto mirror = cam.flip({1}) * 0.9 + 0.05;  // CAM = the mirrored lung field
    const auto ms = std::get<0>(mirror.flatten().sort(0, true));
    const RegionScore mirrored = score_region(mirror, ms, m, 32, 0.5);
    const auto a = m.ne(0), b = mirror.ge(0.5);
    const double expected = a.logical_and(b).sum().item<double>() / a.logical_or(b).sum().item<double>();
    CHECK(mirrored.iou_fixed == Approx(expected).epsilon(1e-12));
    CHECK(mirrored.iou_topk == Approx(expected).epsilon(1e-12));  // ties: the same pixel set
    CHECK(mirrored.iou_fixed < 0.98);
    CHECK(std::isnan(score_region(cam, sorted, m, 1, 0.5).iou_topk));  // no spine in a lung mask
  }
  CHECK(checked == 20);
}

TEST_CASE("explain: real radiographs with lung masks on some images give maps, lung scores and why no bone score", "[explain][image_io]") {
  // All public data has: 36 real radiographs, human-drawn lung masks on 20 of them, no bone
  // mask anywhere. explain used to refuse the split; it now scores what the masks allow.
  TempDir tmp;
  const CliResult conv = run_osteofm("data masks '" + shared("data/public-cxr/v7labs-lung-masks/pairs.csv") + "' --root '" +
                                     shared("data/public-cxr") + "' --map 255=lungs --out '" + (tmp / "cxr") + "'");
  REQUIRE(conv.code == 0);
  std::map<std::string, std::string> mask_of;
  for (const auto& rec : parse_csv(read_text(tmp / "cxr/masks.csv"), "masks.csv").records) mask_of[rec.fields[0]] = rec.fields[1];
  const std::vector<std::string> images = public_radiographs();
  REQUIRE(images.size() >= 30);
  // Three splits, each with every class: split by i % 3, class by (i / 3) % 3.
  const char* splits[] = {"train", "val", "test"};
  const char* t_scores[] = {"0.5", "-1.8", "-3.1"};
  std::string manifest = "image_id,patient_id,path,mask,t_score,split\n";
  size_t test_rows = 0, test_masked = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto it = mask_of.find(images[i]);
    const std::string mask = it == mask_of.end() ? "" : it->second;
    manifest += "img" + std::to_string(i) + ",p" + std::to_string(i) + "," + images[i] + "," + mask + "," +
                t_scores[(i / 3) % 3] + "," + splits[i % 3] + "\n";
    if (i % 3 == 2) {
      ++test_rows;
      test_masked += !mask.empty();
    }
  }
  REQUIRE(test_masked > 0);
  REQUIRE(test_masked < test_rows);
  write_text(tmp / "cxr/manifest.csv", manifest);  // beside the regions.json data masks wrote
  write_text(tmp / "c.json", tiny_probe_config(tmp / "cxr/manifest.csv"));
  const CliResult t = run_osteofm("train --config '" + (tmp / "c.json") + "' --out '" + (tmp / "run") + "'");
  INFO(t.err);
  REQUIRE(t.code == 0);
  const CliResult e = run_osteofm("explain --run '" + (tmp / "run") + "' --out '" + (tmp / "run/explain") +
                                  "' --bootstrap 50 --overlays 4");
  INFO(e.err);
  REQUIRE(e.code == 0);
  CHECK_THAT(e.err, Catch::Contains("bone scores (IoU_bone, Δbone) on 0") && Catch::Contains("no bone region"));
  CHECK_THAT(e.out, Catch::Contains("IoU_bone(all) n/a"));
  const json r = json::parse(read_text(tmp / "run/explain/explain.json"));
  CHECK(r["coverage"]["images"] == test_rows);
  CHECK(r["coverage"]["with_mask"] == test_masked);
  CHECK(r["coverage"]["bone_scored"] == 0);
  CHECK(r["coverage"]["skipped"]["no_mask"] == test_rows - test_masked);
  CHECK(r["coverage"]["bone_reason"] == "the region table (regions.json) has no bone region");
  CHECK(r["delta_bone"]["all"].is_null());
  CHECK(r["delta_bone"]["reason"] == r["coverage"]["bone_reason"]);
  CHECK(r["iou_bone"]["all"].is_null());
  // The lungs are scored on exactly the masked images, with an interval.
  const json lungs = r["iou_bone"]["per_region"]["lungs"];
  CHECK(lungs["n"] == test_masked);
  CHECK(lungs["estimate"].get<double>() > 0.0);
  CHECK(lungs["estimate"].get<double>() < 1.0);
  CHECK(r["cam_share"]["per_region"]["lungs"]["n"] == test_masked);
  // Every image has its map: the per-image table has a row each, blank lung scores where
  // there is no mask; overlays exist for masked and unmasked images alike.
  const CsvTable per_image = parse_csv(read_text(tmp / "run/explain/per_image.csv"), "per_image.csv");
  CHECK(per_image.records.size() == test_rows);
  const int lung_col = per_image.column("iou_topk_lungs");
  REQUIRE(lung_col >= 0);
  size_t blank = 0;
  for (const auto& rec : per_image.records) blank += rec.fields[lung_col].empty();
  CHECK(blank == test_rows - test_masked);
  REQUIRE(r["files"]["overlays"].size() > 0);
  // An overlay is the input beside the map (two square panels and a colour bar), with a
  // caption above and a legend below: wider than two panels, taller than one.
  const std::string png = read_text(tmp / ("run/explain/" + r["files"]["overlays"][0].get<std::string>()));
  REQUIRE(png.size() > 24);
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) | (uint32_t(uint8_t(png[at + 2])) << 8) |
           uint32_t(uint8_t(png[at + 3]));
  };
  const uint32_t width = be32(16), height = be32(20);
  CHECK(width >= 2 * 448 + 16);
  CHECK(height > 448 + 40);
  // The table has the run's row with blank bone columns instead of an error.
  const CliResult table = run_osteofm("table '" + tmp.path.string() + "'");
  INFO(table.err);
  CHECK(table.code == 0);
}

TEST_CASE("explain: images without a mask get maps, bone scores on the rest equal those of the masked images alone", "[explain][image_io]") {
  TempDir tmp;
  REQUIRE(run_osteofm("synth --out '" + (tmp / "cohort") + "' --patients 60 --size 112 --seed 3").code == 0);
  const json c = {{"data", {{"manifest", tmp / "cohort/manifest.csv"}}},
                  {"backbone", {{"preset", "dinov2-tiny"}, {"seed", 5}}},
                  {"strategy", {{"name", "linear_probe"}}},
                  {"train", {{"epochs", 2}, {"batch_size", 16}, {"seed", 2}}}};
  write_text(tmp / "c.json", c.dump());
  REQUIRE(run_osteofm("train --config '" + (tmp / "c.json") + "' --out '" + (tmp / "run") + "'").code == 0);
  // partial.csv: the first 5 test rows lose their mask; masked.csv: only the other test rows.
  const CsvTable m = parse_csv(read_text(tmp / "cohort/manifest.csv"), "manifest.csv");
  const int mask_col = m.column("mask"), split_col = m.column("split");
  std::string partial = "image_id,patient_id,path,mask,t_score,age,split\n", masked = partial;
  REQUIRE(csv_line(m.header) == partial);
  int dropped = 0, kept = 0;
  for (auto rec : m.records) {
    if (rec.fields[split_col] == "test" && dropped < 5) {
      ++dropped;
      rec.fields[mask_col] = "";
      partial += csv_line(rec.fields);
      continue;
    }
    kept += rec.fields[split_col] == "test";
    partial += csv_line(rec.fields);
    masked += csv_line(rec.fields);
  }
  write_text(tmp / "cohort/partial.csv", partial);
  write_text(tmp / "cohort/masked.csv", masked);
  const CliResult p = run_osteofm("explain --run '" + (tmp / "run") + "' --data '" + (tmp / "cohort/partial.csv") +
                                  "' --out '" + (tmp / "partial") + "' --bootstrap 100 --overlays 2 --batch 1 --fills blur");
  INFO(p.err);
  REQUIRE(p.code == 0);
  CHECK_THAT(p.err, Catch::Contains("bone scores (IoU_bone, Δbone) on " + std::to_string(kept)) &&
                        Catch::Contains("5 without a mask"));
  const CliResult q = run_osteofm("explain --run '" + (tmp / "run") + "' --data '" + (tmp / "cohort/masked.csv") +
                                  "' --out '" + (tmp / "masked") + "' --bootstrap 100 --overlays 0 --batch 1 --fills blur");
  REQUIRE(q.code == 0);
  CHECK(q.err.find("maps for all") == std::string::npos);  // every image scored: no coverage note
  const json a = json::parse(read_text(tmp / "partial/explain.json")), b = json::parse(read_text(tmp / "masked/explain.json"));
  CHECK(a["n"] == kept + 5);
  CHECK(a["coverage"]["bone_scored"] == kept);
  CHECK(a["coverage"]["skipped"]["no_mask"] == 5);
  CHECK(a["delta_bone"]["n"] == kept);
  // Same images, same patients, same seed: the same Δbone and interval, to the last digit.
  // (--batch 1: a batch's composition moves float sums in the last bits; --fills blur: the
  // mean and noise fills depend on the whole split's pixel statistics, not per image.)
  CHECK(a["delta_bone"]["all"] == b["delta_bone"]["all"]);
  CHECK(a["delta_bone"]["fills"]["blur"]["per_region"] == b["delta_bone"]["fills"]["blur"]["per_region"]);
  CHECK(a["iou_bone"]["all"]["estimate"] == b["iou_bone"]["all"]["estimate"]);
  CHECK(a["iou_bone"]["all"]["n"] == kept);
  // Reference levels beside the score, on the same images: chance < score's ceiling, and
  // the normalised score is (score - chance) / (ceiling - chance) of the means.
  const json ref = a["iou_bone"]["reference"]["all"];
  CHECK(ref["chance"]["n"] == kept);
  CHECK(ref["chance"]["estimate"].get<double>() < ref["ceiling"]["estimate"].get<double>());
  const double chance = ref["chance"]["estimate"], ceiling = ref["ceiling"]["estimate"];
  CHECK(ref["normalised"]["estimate"].get<double>() ==
        Approx((a["iou_bone"]["all"]["estimate"].get<double>() - chance) / (ceiling - chance)).epsilon(1e-9));
  CHECK(a["reference_levels"]["grid"] == json::array({8, 8}));
  CHECK(a["cam_share"]["reference"]["per_region"].contains("lungs"));
  // The area-matched control: Δbone − Δcontrol is the same number as its own statistic.
  const json& control = a["delta_bone"]["fills"]["blur"]["area_control"];
  CHECK(control["draws"] == 3);
  CHECK(control["delta_bone_minus_control"]["estimate"].get<double>() ==
        Approx(a["delta_bone"]["all"]["estimate"].get<double>() - control["delta"]["estimate"].get<double>()).margin(1e-12));
  CHECK(control["area_ratio"].get<double>() > 0.0);
  CHECK(control["area_ratio"].get<double>() <= 1.0);
  // Every occlusion whose macro AUC falls below 0.5 is flagged, and only those.
  const json& blur = a["delta_bone"]["fills"]["blur"];
  REQUIRE(blur["auc_below_0.5"].is_array());
  for (auto it = blur["auc"].begin(); it != blur["auc"].end(); ++it) {
    const bool listed = std::find(blur["auc_below_0.5"].begin(), blur["auc_below_0.5"].end(), it.key()) != blur["auc_below_0.5"].end();
    CHECK(listed == (it.value()["estimate"].get<double>() < 0.5));
  }
  // Attention rollout as the map: the same report, labelled.
  const CliResult ro = run_osteofm("explain --run '" + (tmp / "run") + "' --data '" + (tmp / "cohort/partial.csv") +
                                   "' --out '" + (tmp / "rollout") + "' --cam rollout --bootstrap 50 --overlays 1 --fills blur");
  INFO(ro.err);
  REQUIRE(ro.code == 0);
  const json rj = json::parse(read_text(tmp / "rollout/explain.json"));
  CHECK(rj["cam"] == "rollout");
  CHECK(rj["iou_bone"]["all"]["n"] == kept);
  // Deletion curves: nothing removed = the model's own probabilities of the explained class;
  // everything removed = the same image whatever the order; areas by the trapezoid rule.
  const json del = a["deletion"];
  REQUIRE(del["fractions"].size() == 11);
  const CsvTable pi = parse_csv(read_text(tmp / "partial/per_image.csv"), "per_image.csv");
  const int tc = pi.column("target_class"), p0 = pi.column("p_normal");
  double mean_target = 0;
  for (const auto& rec : pi.records) mean_target += std::stod(rec.fields[p0 + std::stoi(rec.fields[tc])]) / pi.records.size();
  CHECK(del["map"]["p_target"][0].get<double>() == Approx(mean_target).epsilon(1e-9));
  CHECK(del["random"]["p_target"][0] == del["map"]["p_target"][0]);
  CHECK(del["map"]["p_target"][10] == del["random"]["p_target"][10]);
  std::vector<double> xs, ys;
  for (size_t i = 0; i < 11; ++i) {
    xs.push_back(del["fractions"][i]);
    ys.push_back(del["map"]["p_target"][i]);
  }
  CHECK(del["map"]["area_p_target"].get<double>() == Approx(curve_area(xs, ys)).epsilon(1e-12));
  CHECK(del["area_p_target_random_minus_map"]["n"] == a["n"]);
  // The unmasked images' occlusion columns are blank, not copies of the original scores.
  const CsvTable rows = parse_csv(read_text(tmp / "partial/per_image.csv"), "per_image.csv");
  const int occ = rows.column("p_label_blur_all_bones_occluded");
  REQUIRE(occ >= 0);
  size_t blank = 0;
  for (const auto& rec : rows.records) blank += rec.fields[occ].empty();
  CHECK(blank == 5);
}

TEST_CASE("regions.json: the nested form without controls never counts a control region as bone", "[explain]") {
  // {"bits": {...}} without "controls" made every region a bone: the lungs inflated
  // IoU_bone(all) (0.321 -> 0.438 on one run). Known control names are controls in both forms.
  const auto nested = parse_region_table(R"({"bits": {"spine": 1, "ribs": 2, "lungs": 32, "marker": 64}})", "r.json");
  CHECK(nested.bone_bits() == 3);
  REQUIRE(nested.controls().size() == 2);
  CHECK(nested.controls()[0].name == "lungs");
  CHECK(nested.controls()[1].name == "marker");
  const auto flat = parse_region_table(R"({"spine": 1, "ribs": 2, "lungs": 32, "marker": 64})", "r.json");
  CHECK(flat.bone_bits() == nested.bone_bits());
  // An explicit list still rules: here the lungs are declared a bone region on purpose.
  const auto listed = parse_region_table(R"({"bits": {"spine": 1, "lungs": 32}, "controls": []})", "r.json");
  CHECK(listed.bone_bits() == 33);
}

TEST_CASE("reference maps: the grid ceiling and the chance level of a region score", "[explain]") {
  const int64_t S = 112, G = 8;  // a 14 px patch grid, as the tiny presets have
  auto score = [&](const torch::Tensor& map, const torch::Tensor& region) {
    const auto mask = region.to(torch::kUInt8);
    return score_region(map, std::get<0>(map.flatten().sort(0, true)), mask, 1, 0.5);
  };
  // The left half of the image, on cell borders: one straight edge, which bilinear
  // upsampling keeps on the same pixel boundary, so the ceiling is a perfect score.
  auto half = torch::zeros({S, S}, torch::kBool);
  half.slice(1, 0, S / 2).fill_(true);
  const RegionScore h = score(ceiling_map(half, G, G), half);
  CHECK(h.iou_topk == Approx(1.0));
  CHECK(h.iou_fixed == Approx(1.0));
  // A 3x2-cell block: its corners are rounded off at grid resolution, so even the best map
  // the grid allows scores below 1 - what the ceiling is for.
  auto block = torch::zeros({S, S}, torch::kBool);
  block.slice(0, 2 * 14, 5 * 14).slice(1, 14, 3 * 14).fill_(true);
  const RegionScore b = score(ceiling_map(block, G, G), block);
  CHECK(b.iou_topk < 0.999);
  CHECK(b.iou_topk > 0.85);
  // A region inside one cell cannot be resolved at all: its ceiling is far below 1.
  auto speck = torch::zeros({S, S}, torch::kBool);
  speck.slice(0, 60, 64).slice(1, 60, 64).fill_(true);
  CHECK(score(ceiling_map(speck, G, G), speck).iou_topk < 0.5);  // 0.39: a cell-sized blob around it

  // Chance: random cell values select, at the top-k policy, about as many random cells as the
  // region has; for the half image (32 of 64 cells) the expected IoU at cell level is
  // E[i / (64 - i)], i hypergeometric (64 cells, 32 drawn, 32 in the region).
  double expected = 0;
  for (int i = 0; i <= 32; ++i) {
    auto log_choose = [](int n, int k) { return std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0); };
    const double p = std::exp(log_choose(32, i) + log_choose(32, 32 - i) - log_choose(64, 32));
    expected += p * i / (64.0 - i);
  }
  const auto maps = chance_maps(G, G, S, 400, 11);
  REQUIRE(maps.sizes() == torch::IntArrayRef({400, S, S}));
  double mean = 0;
  for (int m = 0; m < 400; ++m) mean += score(maps[m], half).iou_topk / 400;
  INFO("chance IoU " << mean << ", cell-level expectation " << expected);
  CHECK(std::fabs(mean - expected) < 0.03);
  // Seeded: the same draws again; another seed, other maps.
  CHECK(torch::equal(chance_maps(G, G, S, 2, 5), chance_maps(G, G, S, 2, 5)));
  CHECK_FALSE(torch::equal(chance_maps(G, G, S, 2, 5), chance_maps(G, G, S, 2, 6)));
}

TEST_CASE("area-matched control: as many pixels as the bones, never on a bone or a control", "[explain]") {
  // 64x64: bones (bit 1) in columns 0..15, lungs (bit 32, control) in 16..31, free on the right.
  auto mask = torch::zeros({64, 64}, torch::kUInt8);
  mask.slice(1, 0, 16).fill_(1);
  mask.slice(1, 16, 32).fill_(32);
  const AreaControl c = area_matched_control(mask, 1, 32, 7, 42);
  CHECK(c.target == 64 * 16);
  CHECK(c.covered == c.target);
  CHECK(c.occlude.sum().item<int64_t>() == c.target);
  CHECK(c.occlude.logical_and(mask.ne(0)).sum().item<int64_t>() == 0);  // only free pixels
  // Seeded: the same blocks again; another seed, other blocks.
  CHECK(torch::equal(c.occlude, area_matched_control(mask, 1, 32, 7, 42).occlude));
  CHECK_FALSE(torch::equal(c.occlude, area_matched_control(mask, 1, 32, 7, 43).occlude));
  // Blocks, not scattered pixels: every occluded pixel has an occluded neighbour.
  const auto o = c.occlude.to(torch::kInt32);
  const auto neighbours = o.roll(1, 0) + o.roll(-1, 0) + o.roll(1, 1) + o.roll(-1, 1);
  CHECK(o.logical_and(neighbours.eq(0)).sum().item<int64_t>() == 0);
  // More bone than free pixels: all the free ones, and the shortfall is visible.
  auto big = torch::ones({64, 64}, torch::kUInt8);
  big.slice(1, 56, 64).fill_(0);
  const AreaControl s = area_matched_control(big, 1, 32, 7, 1);
  CHECK(s.covered == 64 * 8);
  CHECK(s.target == 64 * 56);
}

TEST_CASE("rollout: a hand-computed two-layer, two-head case and uniform attention", "[explain]") {
  // T = 3 tokens (CLS and two patches). Layer 1: head a = I, head b sends tokens 0 and 1 to
  // token 1; mean [[.5,.5,0],[0,1,0],[0,0,1]]; 0.5*mean + 0.5*I = [[.75,.25,0],[0,1,0],[0,0,1]].
  // Layer 2: both heads send token 0 to token 2: 0.5*A + 0.5*I = [[.5,0,.5],[0,1,0],[0,0,1]].
  // Rollout = L2 L1: CLS row [.375, .125, .5]; its patch part [.125, .5].
  auto l1 = torch::zeros({1, 2, 3, 3});
  l1[0][0] = torch::eye(3);
  l1[0][1] = torch::tensor({0.f, 1.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f}).view({3, 3});
  auto l2 = torch::zeros({1, 2, 3, 3});
  l2[0][0] = torch::tensor({0.f, 0.f, 1.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f}).view({3, 3});
  l2[0][1] = l2[0][0].clone();
  const auto r = rollout_matrix({l1, l2});
  CHECK(r[0][0][0].item<double>() == Approx(0.375));
  CHECK(r[0][0][1].item<double>() == Approx(0.125));
  CHECK(r[0][0][2].item<double>() == Approx(0.5));
  CHECK(r[0][1][1].item<double>() == Approx(1.0));
  CHECK(torch::allclose(r.sum(-1), torch::ones({1, 3})));
  // Rows are renormalised after mixing: layer 1 scaled by 3 gives 0.5*3*mean + 0.5*I =
  // [[1.25,.75,0],[0,2,0],[0,0,2]] -> [[.625,.375,0],[0,1,0],[0,0,1]]; CLS row [.3125,.1875,.5].
  const auto scaled = rollout_matrix({l1 * 3, l2});
  CHECK(scaled[0][0][0].item<double>() == Approx(0.3125));
  CHECK(scaled[0][0][1].item<double>() == Approx(0.1875));
  CHECK(scaled[0][0][2].item<double>() == Approx(0.5));

  // Through a real ViT: zero query/key weights give uniform attention U on T tokens, so each
  // layer is 0.5U + 0.5I and two layers give 0.75U + 0.25I.
  ArchConfig a;
  a.patch_size = 14;
  a.image_size = 28;
  a.width = 8;
  a.depth = 2;
  a.heads = 2;
  a.mlp_dim = 16;
  VisionTransformer vit(a);
  torch::manual_seed(1);
  {
    torch::NoGradGuard ng;
    for (auto& p : vit->parameters()) p.normal_(0, 0.1);
    for (int i = 0; i < 2; ++i) {
      auto* attn = vit->blocks[i]->as<BlockImpl>()->attn.get();
      const auto qkv = std::dynamic_pointer_cast<DenseLinear>(attn->qkv);
      qkv->weight.slice(0, 0, 16).zero_();  // q and k rows
      qkv->bias.slice(0, 0, 16).zero_();
    }
  }
  vit->eval();
  const auto images = torch::randn({2, 3, 28, 28});
  const auto atts = block_attentions(vit, images);
  REQUIRE(atts.size() == 2);
  CHECK(atts[0].sizes() == torch::IntArrayRef({2, 2, 5, 5}));
  const auto u = rollout_matrix(atts);
  const auto expected = 0.75 * torch::full({5, 5}, 1.0 / 5) + 0.25 * torch::eye(5);
  CHECK(torch::allclose(u[1], expected, 1e-6, 1e-6));
  // block_attentions reads the model and leaves it as it was: the same output before and after.
  const auto before = vit->forward(images).cls;
  block_attentions(vit, images);
  CHECK(torch::equal(vit->forward(images).cls, before));
  // The attention comes from the same pass as the output, which it leaves as it is.
  ForwardOptions keep;
  keep.attention = true;
  const VitOutput with = vit->forward(images, keep);
  CHECK(torch::equal(with.cls, before));
  REQUIRE(with.attentions.size() == 2);
  CHECK(torch::equal(with.attentions[1], atts[1]));
}

TEST_CASE("deletion: cell orders, fractions and areas", "[explain]") {
  const auto grid = torch::tensor({0.2f, 0.9f, 0.2f, 0.5f}).view({2, 2});
  CHECK(cells_by_map(grid) == std::vector<int64_t>({1, 3, 0, 2}));  // ties: lower index first
  const auto r = cells_in_random_order(64, 9);
  CHECK(r == cells_in_random_order(64, 9));
  CHECK(r != cells_in_random_order(64, 10));
  auto sorted = r;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 64; ++i) CHECK(sorted[i] == i);  // a permutation
  CHECK(deletion_fractions(4) == std::vector<double>({0, 0.25, 0.5, 0.75, 1}));
  CHECK(curve_area({0, 0.5, 1}, {1, 0.5, 0}) == Approx(0.5));
  CHECK(curve_area({0, 0.5, 1}, {1, 1, 1}) == Approx(1.0));
}

TEST_CASE("score_region: the top-k policy selects only positive CAM pixels", "[explain]") {
  // A focused map: 4 hot pixels, zeros elsewhere, scored against a 16-pixel region. With
  // k = 16 the 16th-largest value is 0; "CAM >= 0" would select the whole image and score
  // the region's area share (16/64) whatever the map shows.
  auto mask = torch::zeros({8, 8}, torch::kUInt8);
  mask.slice(0, 0, 4).slice(1, 0, 4).fill_(1);
  auto cam = torch::zeros({8, 8});
  cam.slice(0, 6, 8).slice(1, 6, 8).fill_(1.0);  // outside the region
  auto sorted = std::get<0>(cam.flatten().sort(0, true));
  CHECK(score_region(cam, sorted, mask, 1, 0.5).iou_topk == 0.0);
  cam[0][0] = 0.5;  // one hot pixel inside: 5 selected, 1 shared, union 5 + 16 - 1
  sorted = std::get<0>(cam.flatten().sort(0, true));
  CHECK(score_region(cam, sorted, mask, 1, 0.5).iou_topk == Approx(1.0 / 20.0));
  // A map positive everywhere still takes exactly its top k.
  auto dense = torch::arange(64, torch::kFloat32).view({8, 8}).flip({0, 1}) / 63.0;  // largest at [0][0]
  sorted = std::get<0>(dense.flatten().sort(0, true));
  // Top 16 = rows 0-1; 8 of them in the region; union 16 + 16 - 8.
  CHECK(score_region(dense, sorted, mask, 1, 0.5).iou_topk == Approx(8.0 / 24.0));
}

TEST_CASE("occlusion_cam: each grid cell is the drop of the class probability with that cell filled", "[explain]") {
  json c = default_train_config();
  c["backbone"]["preset"] = "dinov2-tiny";
  c["backbone"]["seed"] = 7;
  BuiltClassifier b = build_classifier(typed_run_config(c));
  b.model->eval();
  const Preprocessing pre = b.backbone.preset.preprocessing;
  const int64_t S = pre.size, P = b.backbone.vit->arch.patch_size, G = S / P;
  torch::manual_seed(5);
  const auto x = torch::rand({3, 1, S, S});
  const std::vector<int64_t> target = {kPredictedClass, 0, 2};
  const GradCamResult r = occlusion_cam(b.model, x, pre, target, 0.3, 0.0);
  REQUIRE(r.cam_grid.sizes() == torch::IntArrayRef({3, G, G}));
  REQUIRE(r.cam.sizes() == torch::IntArrayRef({3, S, S}));
  CHECK(r.target[1] == 0);
  CHECK(r.target[2] == 2);
  torch::NoGradGuard ng;
  const auto p0 = torch::softmax(b.model->forward(normalize_batch(x, pre)), 1);
  CHECK(r.target[0] == p0[0].argmax().item<int64_t>());
  // Recompute three cells one at a time (the function batches several cells per pass).
  for (const auto& [row, col] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {3, 5}, {G - 1, G - 1}}) {
    auto xo = x.clone();
    xo.slice(2, row * P, (row + 1) * P).slice(3, col * P, (col + 1) * P).fill_(0.3);
    const auto p = torch::softmax(b.model->forward(normalize_batch(xo, pre)), 1);
    for (int64_t i = 0; i < 3; ++i) {
      const int64_t t = r.target[i];
      const double drop = std::max(0.0, (p0[i][t] - p[i][t]).item<double>());
      CHECK(r.cam_grid[i][row][col].item<double>() == Approx(drop).margin(1e-6));
    }
  }
  // The floor zeroes cells without a measurable effect, and only those.
  const GradCamResult f = occlusion_cam(b.model, x, pre, target, 0.3, 1e-3);
  const auto kept = r.cam_grid.ge(1e-3);
  CHECK(torch::equal(f.cam_grid.ne(0), kept));
  CHECK(torch::allclose(f.cam_grid, r.cam_grid * kept));
}

// The proof that the scores measure what they claim, over three training seeds: a model
// that can only read bone density, one that can only read a burned-in marker outside the
// bones, and one whose density signal lives in the spine alone (--signal-region spine).
// Two-block dinov2-tiny layout, both blocks trained, CLS + mean-token head (the CLS token
// alone did not find the spine or the marker for every seed in 20 epochs).
// lr_body 1e-3, not 3e-3: at 3e-3 training was chaotic enough that the BLAS kernel's
// summation order alone (OPENBLAS_CORETYPE) moved the marker model's test macro AUC from
// 0.80 to 0.94 and the spine model's from 0.71 to 0.94 for the same seed; at 1e-3 the nine
// models differ by at most 0.006 across the Haswell, SkylakeX and auto-detected kernels.
//
// What is asserted, with bootstrap CIs apart, for every seed: Δbone minus its area-matched
// control, and the normalised CAM share inside the bones of occlusion and rollout maps,
// are higher for the bone model than for the marker model; the spine model's largest
// add-back is the spine (its CI's lower bound above every other region's estimate).
// Normalised IoU_bone is printed, not asserted: on the realistic
// phantom the ribs lie over the lung fields, so at the 8x8 grid a map on the rib cage
// covers as much lung as rib, and IoU_bone did not order the models for every seed, on
// occlusion or rollout maps (README, Known limits, has the figures).
namespace {
struct ValidationRun {
  json metrics, occlusion, rollout;
};

ValidationRun train_and_explain(const TempDir& dir, const std::string& cohort, int seed, bool occlusion) {
  const std::string name = cohort + "_" + std::to_string(seed);
  const json c = {{"data", {{"manifest", dir / (cohort + "/manifest.csv")}}},
                  {"backbone", {{"preset", "dinov2-tiny"}, {"arch", dir / "arch.json"}}},
                  {"head", {{"feature", "cls_mean"}}},
                  {"strategy", {{"name", "partial"}, {"blocks", 2}}},
                  {"augment", {{"enabled", false}}},
                  {"train", {{"epochs", 20}, {"batch_size", 16}, {"lr_head", 0.01}, {"lr_body", 0.001}, {"patience", 20}, {"seed", seed}}}};
  write_text(dir / (name + ".json"), c.dump());
  const std::string run = dir / (name + "_run");
  const CliResult t = run_osteofm("train --config '" + (dir / (name + ".json")) + "' --out '" + run + "'");
  INFO(t.err);
  REQUIRE(t.code == 0);
  ValidationRun v;
  v.metrics = json::parse(read_text(run + "/metrics_test.json"));
  // The masks are exact (the phantom draws them): no mask-sensitivity passes.
  const std::string common = " --fills mean --bootstrap 200 --overlays 0 --deletion-steps 0 --mask-sensitivity 0";
  for (const char* cam : {"rollout", "occlusion"}) {
    if (std::string(cam) == "occlusion" && !occlusion) continue;
    const CliResult e = run_osteofm("explain --run '" + run + "' --out '" + run + "/" + cam + "' --cam " + cam + common);
    INFO(e.err);
    REQUIRE(e.code == 0);
    (std::string(cam) == "rollout" ? v.rollout : v.occlusion) = json::parse(read_text(run + "/" + cam + "/explain.json"));
  }
  return v;
}

std::string ci_text(const json& j) {
  std::ostringstream s;
  s << j["estimate"].get<double>() << " [" << j["ci"][0].get<double>() << ", " << j["ci"][1].get<double>() << "]";
  return s.str();
}
double lo(const json& j) { return j["ci"][0].get<double>(); }
double hi(const json& j) { return j["ci"][1].get<double>(); }

// Checks "a > b" and keeps a − b; prints every margin when OSTEOFM_PRINT_VALIDATION is set.
class Margins {
 public:
  explicit Margins(int seed) : seed_(seed) {}
  void above(const std::string& what, const json& a, double b) { above(what, a.get<double>(), b); }
  void above(const std::string& what, double a, double b) {
    if (std::getenv("OSTEOFM_PRINT_VALIDATION"))
      std::printf("margin seed %d %-58s %+.4f (%.4f vs %.4f)\n", seed_, what.c_str(), a - b, a, b);
    INFO(what << ": margin " << a - b << " (" << a << " vs " << b << ")");
    CHECK(a > b);
  }

 private:
  int seed_;
};

void validate_with_training_seed(int seed) {
  TempDir dir;
  const std::string common = " --patients 240 --size 112 --seed 5";
  REQUIRE(run_osteofm("synth --out '" + (dir / "bone") + "'" + common + " --effect 3").code == 0);
  REQUIRE(run_osteofm("synth --out '" + (dir / "marker") + "'" + common + " --effect 0 --shortcut marker").code == 0);
  // --effect 5: behind the mediastinum the spine's contrast is compressed (as on a real film),
  // and at --effect 3 its signal alone was not learned for every seed.
  REQUIRE(run_osteofm("synth --out '" + (dir / "spine") + "'" + common + " --effect 5 --signal-region spine").code == 0);
  write_text(dir / "arch.json", R"({"depth": 2})");
  const ValidationRun bone = train_and_explain(dir, "bone", seed, true);
  const ValidationRun marker = train_and_explain(dir, "marker", seed, true);
  const ValidationRun spine = train_and_explain(dir, "spine", seed, false);

  auto share = [](const json& e) { return e["cam_share"]["reference"]["all"]["normalised"]; };
  auto iou = [](const json& e) { return e["iou_bone"]["reference"]["all"]["normalised"]; };
  auto minus_control = [](const json& e) { return e["delta_bone"]["area_control"]["delta_bone_minus_control"]; };
  INFO("training seed " << seed << ": test macro AUC bone " << ci_text(bone.metrics["auc_macro"]) << ", marker "
                        << ci_text(marker.metrics["auc_macro"]) << ", spine " << ci_text(spine.metrics["auc_macro"]));
  INFO("Δbone − area control: bone " << ci_text(minus_control(bone.occlusion)) << ", marker "
                                      << ci_text(minus_control(marker.occlusion)));
  INFO("normalised CAM share in the bones, occlusion: bone " << ci_text(share(bone.occlusion)) << ", marker "
                                                              << ci_text(share(marker.occlusion)) << "; rollout: bone "
                                                              << ci_text(share(bone.rollout)) << ", marker "
                                                              << ci_text(share(marker.rollout)));
  INFO("normalised IoU_bone(all), occlusion: bone " << ci_text(iou(bone.occlusion)) << ", marker "
                                                     << ci_text(iou(marker.occlusion)) << "; rollout: bone "
                                                     << ci_text(iou(bone.rollout)) << ", marker " << ci_text(iou(marker.rollout)));
  INFO("spine model's add-back Δbone: " << spine.rollout["delta_bone"]["per_region"].dump());
  if (std::getenv("OSTEOFM_PRINT_VALIDATION")) {
    std::printf("seed %d: AUC bone %s marker %s spine %s\n", seed, ci_text(bone.metrics["auc_macro"]).c_str(),
                ci_text(marker.metrics["auc_macro"]).c_str(), ci_text(spine.metrics["auc_macro"]).c_str());
    std::printf("  dbone-control bone %s marker %s\n", ci_text(minus_control(bone.occlusion)).c_str(),
                ci_text(minus_control(marker.occlusion)).c_str());
    std::printf("  share occ bone %s marker %s | rollout bone %s marker %s\n", ci_text(share(bone.occlusion)).c_str(),
                ci_text(share(marker.occlusion)).c_str(), ci_text(share(bone.rollout)).c_str(),
                ci_text(share(marker.rollout)).c_str());
    std::printf("  iou occ bone %s marker %s | rollout bone %s marker %s\n", ci_text(iou(bone.occlusion)).c_str(),
                ci_text(iou(marker.occlusion)).c_str(), ci_text(iou(bone.rollout)).c_str(), ci_text(iou(marker.rollout)).c_str());
    for (const auto& [region, v] : spine.rollout["delta_bone"]["per_region"].items())
      std::printf("  spine model add-back %s %s\n", region.c_str(), ci_text(v).c_str());
  }

  // Every asserted inequality is "a > b": its margin a − b is in the message, and with
  // OSTEOFM_PRINT_VALIDATION set all margins are printed (pass or fail), so the spread across
  // BLAS kernels (OPENBLAS_CORETYPE) and machines can be measured (README, "Validation").
  Margins m(seed);
  // Each model learned its cue, or the comparison proves nothing.
  m.above("bone model test macro AUC > 0.75", bone.metrics["auc_macro"]["estimate"], 0.75);
  m.above("marker model test macro AUC > 0.8", marker.metrics["auc_macro"]["estimate"], 0.8);
  m.above("spine model test macro AUC > 0.75", spine.metrics["auc_macro"]["estimate"], 0.75);
  // Δbone beyond what hiding as many non-bone pixels costs: the bone model's, not the marker model's.
  m.above("lo(Δbone − control, bone) > hi(Δbone − control, marker)", lo(minus_control(bone.occlusion)),
          hi(minus_control(marker.occlusion)));
  m.above("lo(Δbone − control, bone) > 0.1", lo(minus_control(bone.occlusion)), 0.1);
  // Where the maps put their mass, relative to chance and the grid's best: inside the bones
  // for the bone model, on the marker (below chance in the bones) for the marker model.
  m.above("lo(share occlusion, bone) > hi(share occlusion, marker)", lo(share(bone.occlusion)), hi(share(marker.occlusion)));
  m.above("lo(share rollout, bone) > hi(share rollout, marker)", lo(share(bone.rollout)), hi(share(marker.rollout)));
  m.above("0 > hi(share occlusion, marker)", 0.0, hi(share(marker.occlusion)));
  m.above("marker's own occlusion share > 0.1", marker.occlusion["cam_share"]["per_region"]["marker"]["estimate"], 0.1);
  // The spine model's largest add-back is the spine, above zero, and above the runner-up's
  // with the paired difference's CI above 0 (the same resamples: the all-bones-occluded AUC
  // both share cancels). The unpaired check it replaces (the spine's lower bound above every
  // other estimate) failed on one BLAS kernel with the spine at 0.157 [0.004, 0.318] against
  // the scapulae's 0.020: 200 replicates of ~74 images leave wide unpaired intervals.
  const json& add_back = spine.rollout["delta_bone"]["per_region"];
  const json& largest = spine.rollout["delta_bone"]["largest_add_back"];
  INFO("spine model's largest add-back: " << largest.dump());
  CHECK(largest["region"] == "spine");
  m.above("lo(add-back spine) > 0", lo(add_back["spine"]), 0.0);
  m.above("lo(add-back spine − runner-up " + largest["runner_up"].get<std::string>() + ") > 0",
          lo(largest["minus_runner_up"]), 0.0);
  // The marker is a control region of the shortcut cohort, reported like the lungs.
  CHECK(marker.occlusion["regions"]["controls"].size() == 2);
}
}  // namespace

TEST_CASE("validation, training seed 1: bone vs marker vs spine-signal model on Δbone, CAM share and add-backs",
          "[explain][validation][image_io]") {
  validate_with_training_seed(1);
}
TEST_CASE("validation, training seed 2: bone vs marker vs spine-signal model on Δbone, CAM share and add-backs",
          "[explain][validation][image_io]") {
  validate_with_training_seed(2);
}
TEST_CASE("validation, training seed 3: bone vs marker vs spine-signal model on Δbone, CAM share and add-backs",
          "[explain][validation][image_io]") {
  validate_with_training_seed(3);
}

TEST_CASE("gradcam: every family, registers dropped, CAM in [0,1] at the input size", "[explain]") {
  const fs::path dir = shared("fixtures/parity");
  TempDir tmp;
  const std::vector<std::pair<std::string, std::string>> cases = {{"openclip_gelu_A", "openclip-vitb16"},
                                                                  {"dinov2_hub_reg4_A", "dinov2-vitb14-reg4"},
                                                                  {"hf_dinov2_A", "rad-dino"},
                                                                  {"chexagent_vision_A", "chexagent-8b-vision"}};
  torch::manual_seed(3);
  save_safetensors(tmp / "x.safetensors", {{"x", torch::randn({2, 3, 224, 224})}});
  for (const auto& [fixture, preset] : cases) {
    const json fx = json::parse(read_text((dir / (fixture + ".json")).string()));
    const json arch = fx.at("arch_json");
    write_text(tmp / "arch.json", arch.dump());
    const int64_t D = arch.at("width");
    save_safetensors(tmp / "head.safetensors", {{"head.weight", torch::randn({3, D})}, {"head.bias", torch::zeros({3})}});
    const CliResult r = run_osteofm("gradcam --backbone " + preset + " --arch '" + (tmp / "arch.json") + "' --weights '" +
                                    (dir / (fixture + ".safetensors")).string() + "' --head '" + (tmp / "head.safetensors") +
                                    "' --tensor '" + (tmp / "x.safetensors") + "' --class pred --out '" + (tmp / "cam.safetensors") + "'");
    INFO(fixture << ": " << r.err);
    REQUIRE(r.code == 0);
    auto out = load_safetensors(tmp / "cam.safetensors");
    const int64_t grid = 224 / arch.at("patch_size").get<int64_t>();
    CHECK(out.at("cam").sizes() == torch::IntArrayRef({2, 224, 224}));
    CHECK(out.at("cam_grid").sizes() == torch::IntArrayRef({2, grid, grid}));
    CHECK(out.at("cam").min().item<double>() >= 0.0);
    CHECK(out.at("cam").max().item<double>() <= 1.0);
    CHECK(out.at("logits").sizes() == torch::IntArrayRef({2, 3}));
  }
}

TEST_CASE("saliency maps: each registers itself by name, and --cam and a study's explain.maps read the registry", "[explain]") {
  CHECK(saliency_map_names() == std::vector<std::string>{"gradcam", "gradxact", "occlusion", "rollout"});
  for (const auto& name : saliency_map_names()) CHECK(std::string(make_saliency_map(name, {})->name()) == name);
  CHECK_THROWS_WITH(make_saliency_map("lime", {}), Catch::Equals("--cam must be gradcam, gradxact, occlusion or rollout, not 'lime'"));
  const json study = {{"explain", {{"maps", {"rollout", "lime"}}}}};
  CHECK_THROWS_WITH(study_explain_maps(study, "s.json", saliency_map_names()),
                    Catch::Equals("s.json: 'explain.maps': 'lime' is not gradcam, gradxact, occlusion or rollout"));
  // The sweep part, which cannot see explain, checks the form only.
  CHECK(study_explain_maps(study, "s.json", {}) == std::vector<std::string>{"rollout", "lime"});
}
