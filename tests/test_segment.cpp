// osteofm data segment against ../shared/fixtures/segment (a TorchScript module traced by
// PyTorch, the masks and logits PyTorch + OpenCV made from four real radiographs): every
// case folder, the README's tolerances; then resume, a row that cannot be decoded, and the
// masks feeding explain on real radiographs.
#include <algorithm>
#include <cmath>
#include <regex>
#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "explain/mask_sensitivity.hpp"
#include "io/image.hpp"
#include "io/safetensors_torch.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {

// The fixture folder and each subfolder holding a segmenter.pt (README: "Tests must run every case").
std::vector<fs::path> segment_cases() {
  std::vector<fs::path> cases;
  const fs::path root = shared("fixtures/segment");
  if (fs::exists(root / "segmenter.pt")) cases.push_back(root);
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && fs::exists(e.path() / "segmenter.pt")) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  return cases;
}

std::vector<std::string> image_ids(const fs::path& manifest) {
  const CsvTable t = parse_csv(read_text(manifest.string()), manifest.string());
  std::vector<std::string> ids;
  for (const auto& r : t.records) ids.push_back(r.fields[static_cast<size_t>(t.column("image_id"))]);
  return ids;
}

}  // namespace

TEST_CASE("segment: every fixture case within the README's tolerances", "[cli][image_io][segment]") {
  const auto cases = segment_cases();
  REQUIRE(cases.size() >= 2);  // the sigmoid case and softmax/
  for (const fs::path& c : cases) {
    SECTION(c.filename().string()) {
      TempDir dir;
      const CliResult r = run_osteofm("data segment '" + (c / "manifest.csv").string() + "' --model '" +
                                      (c / "segmenter.pt").string() + "' --out '" + (dir / "seg") + "' --save-logits");
      INFO(r.out << r.err);
      REQUIRE(r.code == 0);
      // Region bits as the fixture's regions.json names them.
      const json want_bits = json::parse(read_text((c / "expected/regions.json").string()));
      const json got = json::parse(read_text(dir / "seg/regions.json"));
      CHECK(got.at("bits") == want_bits);
      for (const std::string& id : image_ids(c / "manifest.csv")) {
        INFO(c.string() << " " << id);
        const auto want = load_safetensors((c / "expected" / (id + ".safetensors")).string());
        const auto have = load_safetensors(dir / ("seg/logits/" + id + ".safetensors"));
        for (const char* key : {"input", "logits"}) {
          INFO(key);
          REQUIRE(have.at(key).sizes() == want.at(key).sizes());
          const double scale = want.at(key).abs().max().item<double>();
          const double diff = (have.at(key) - want.at(key)).abs().max().item<double>();
          CHECK(diff <= 1e-4 * scale);
        }
        int w = 0, h = 0, ew = 0, eh = 0;
        const auto mask = read_png_u8(dir / ("seg/masks/" + id + ".png"), &w, &h);
        const auto expected = read_png_u8((c / "expected" / (id + ".png")).string(), &ew, &eh);
        REQUIRE(w == ew);
        REQUIRE(h == eh);
        for (auto it = want_bits.begin(); it != want_bits.end(); ++it) {
          const int bit = it.value().get<int>();
          size_t equal = 0, on = 0;
          for (size_t i = 0; i < mask.size(); ++i) {
            equal += ((mask[i] & bit) != 0) == ((expected[i] & bit) != 0);
            on += (expected[i] & bit) != 0;
          }
          INFO(it.key() << ": " << equal << " of " << mask.size() << " pixels equal (" << on << " on)");
          CHECK(static_cast<double>(equal) >= 0.999 * static_cast<double>(mask.size()));
        }
      }
      // The manifest it writes is the input plus a mask column that data check accepts.
      const CliResult check = run_osteofm("data check '" + (dir / "seg/manifest.csv") + "' --decode");
      INFO(check.out << check.err);
      CHECK(check.code == 0);
    }
  }
}

TEST_CASE("segment: a second run keeps finished rows, a failed row is retried, another spec is refused",
          "[cli][image_io][segment]") {
  TempDir dir;
  const fs::path fx = shared("fixtures/segment");
  // The four fixture images plus one that is not an image.
  write_text(dir / "broken.png", "not a png at all");
  std::string csv = read_text((fx / "manifest.csv").string());
  for (const std::string id : {"seg1", "seg2", "seg3", "seg4"})
    csv = std::regex_replace(csv, std::regex("images/" + id + ".png"), (fx / "images" / (id + ".png")).string());
  csv += "bad1,pbad1," + (dir / "broken.png") + ",-2.7\n";
  write_text(dir / "m.csv", csv);
  const std::string cmd = "data segment '" + (dir / "m.csv") + "' --model '" + (fx / "segmenter.pt").string() +
                          "' --out '" + (dir / "seg") + "'";
  CliResult r = run_osteofm(cmd);
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("bad1") && Catch::Contains("1 of 5 images could not be segmented"));
  CHECK_FALSE(fs::exists(dir / "seg/masks/bad1.png"));
  const CsvTable qc = parse_csv(read_text(dir / "seg/qc.csv"), "qc.csv");
  REQUIRE(qc.records.size() == 5);
  CHECK(qc.records[4].fields[static_cast<size_t>(qc.column("status"))] == "failed");
  CHECK_FALSE(qc.records[4].fields[static_cast<size_t>(qc.column("error"))].empty());
  const auto first = fs::last_write_time(dir / "seg/masks/seg1.png");

  // Fixed: only that row is segmented again.
  fs::copy_file((fx / "images/seg2.png").string(), dir / "broken.png", fs::copy_options::overwrite_existing);
  r = run_osteofm(cmd);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("(1 now, 4 kept from before, 0 failed)"));
  CHECK(fs::last_write_time(dir / "seg/masks/seg1.png") == first);
  CHECK(fs::exists(dir / "seg/masks/bad1.png"));

  // Another spec in the same folder: refused, nothing touched.
  json spec = json::parse(read_text((fx / "segmenter.json").string()));
  spec["output"]["threshold"] = 0.6;
  write_text(dir / "other.json", spec.dump());
  r = run_osteofm(cmd + " --spec '" + (dir / "other.json") + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("another segmenter or spec"));
  CHECK(fs::last_write_time(dir / "seg/masks/seg1.png") == first);
}

TEST_CASE("segment: masks from the fixture segmenter give Δbone and IoU_bone on real radiographs", "[cli][image_io][segment]") {
  // The 36 public radiographs have lung masks on 20 and no bone mask anywhere; with a
  // segmenter's masks explain scores the bones on every test image. (The fixture's weights
  // are random, so the regions are not anatomy: this proves the path, not a segmenter.)
  TempDir tmp;
  const std::vector<std::string> images = public_radiographs();
  REQUIRE(images.size() >= 30);
  const char* splits[] = {"train", "val", "test"};
  const char* t_scores[] = {"0.5", "-1.8", "-3.1"};
  std::string manifest = "image_id,patient_id,path,t_score,split\n";
  size_t test_rows = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    manifest += "img" + std::to_string(i) + ",p" + std::to_string(i) + "," + images[i] + "," + t_scores[(i / 3) % 3] +
                "," + splits[i % 3] + "\n";
    test_rows += i % 3 == 2;
  }
  write_text(tmp / "cxr.csv", manifest);
  const CliResult s = run_osteofm("data segment '" + (tmp / "cxr.csv") + "' --model '" +
                                  shared("fixtures/segment/segmenter.pt") + "' --out '" + (tmp / "seg") + "'");
  INFO(s.out << s.err);
  REQUIRE(s.code == 0);
  CHECK(fs::exists(tmp / "seg/contact_sheet.png"));
  const json qc = json::parse(read_text(tmp / "seg/qc.json"));
  CHECK(qc["images"] == images.size());
  CHECK(qc["failed"] == 0);
  write_text(tmp / "c.json", tiny_probe_config(tmp / "seg/manifest.csv"));
  const CliResult t = run_osteofm("train --config '" + (tmp / "c.json") + "' --out '" + (tmp / "run") + "'");
  INFO(t.err);
  REQUIRE(t.code == 0);
  const CliResult e = run_osteofm("explain --run '" + (tmp / "run") + "' --out '" + (tmp / "run/explain") +
                                  "' --cam occlusion --bootstrap 50 --overlays 1 --chance-draws 2 --area-draws 2");
  INFO(e.out << e.err);
  REQUIRE(e.code == 0);
  const json r = json::parse(read_text(tmp / "run/explain/explain.json"));
  CHECK(r["coverage"]["images"] == test_rows);
  CHECK(r["coverage"]["bone_scored"] == test_rows);
  CHECK(r["delta_bone"]["all"].is_object());
  CHECK(r["iou_bone"]["all"].is_object());
  for (const char* region : {"spine", "ribs", "clavicles"}) {
    INFO(region);
    CHECK(r["delta_bone"]["per_region"].contains(region));
    CHECK(r["iou_bone"]["per_region"][region]["n"].get<size_t>() > 0);
  }
  CHECK(r["iou_bone"]["per_region"]["lungs"]["n"] == test_rows);  // the control, scored beside the bones
  // Mask sensitivity (default: 1% of the 112 px input = 1 px): a range around every estimate.
  CHECK(r["mask_sensitivity"]["px"] == 1);
  for (const json* est : {&r["iou_bone"]["all"], &r["delta_bone"]["all"], &r["iou_bone"]["per_region"]["spine"],
                          &r["delta_bone"]["per_region"]["ribs"]}) {
    INFO(est->dump());
    REQUIRE((*est)["mask_range"].is_array());
    const double lo = (*est)["mask_range"][0], hi = (*est)["mask_range"][1], v = (*est)["estimate"];
    CHECK(lo <= v);
    CHECK(v <= hi);
  }
  // Eroded masks are smaller, so a region's top-k IoU is computed on fewer pixels: the
  // per-image columns exist for both sides.
  const CsvTable per_image = parse_csv(read_text(tmp / "run/explain/per_image.csv"), "per_image.csv");
  CHECK(per_image.column("iou_topk_all_bones_eroded") >= 0);
  CHECK(per_image.column("iou_topk_spine_dilated") >= 0);
}

TEST_CASE("segment: masks eroded and dilated bit by bit, the border counting as outside", "[segment]") {
  // A 5x5 square of bit 1 in the middle of 11x11, and bit 2 on the whole left column.
  torch::Tensor m = torch::zeros({1, 11, 11}, torch::kUInt8);
  m.slice(1, 3, 8).slice(2, 3, 8).fill_(1);
  m.select(2, 0).bitwise_or_(2);
  const torch::Tensor e = morph_masks(m, 1, false), d = morph_masks(m, 1, true);
  CHECK(e.bitwise_and(1).ne(0).sum().item<int64_t>() == 9);    // 3x3
  CHECK(d.bitwise_and(1).ne(0).sum().item<int64_t>() == 49);   // 7x7
  CHECK(e.bitwise_and(2).ne(0).sum().item<int64_t>() == 0);    // one pixel wide: gone
  CHECK(d.bitwise_and(2).ne(0).sum().item<int64_t>() == 22);   // two columns, not spilling past the edge
  CHECK(morph_masks(m, 0, true).equal(m));
  CHECK(default_mask_sensitivity(224) == 2);
  CHECK(default_mask_sensitivity(64) == 1);
}

TEST_CASE("segment: reproduce --segmenter masks a cohort of real radiographs and runs through to the table",
          "[cli][image_io][segment][reproduce]") {
  // 34 public radiographs with made-up T-scores, no split, no mask: the prepare stage splits,
  // segments (data/segment), checks and caches; the report stage explains with the masks.
  TempDir dir;
  const std::vector<std::string> images = public_radiographs();
  const char* t_scores[] = {"0.5", "-1.8", "-3.1"};
  std::string csv = "image_id,patient_id,path,t_score\n";
  for (size_t i = 0; i < images.size(); ++i)
    csv += "img" + std::to_string(i) + ",p" + std::to_string(i) + "," + images[i] + "," + t_scores[i % 3] + "\n";
  write_text(dir / "cohort.csv", csv);
  const json study = {{"base", {{"train", {{"epochs", 2}, {"batch_size", 8}}}}},
                      {"backbones", {{"dinov2", {{"preset", "dinov2-tiny"}}}}},
                      {"strategies", {{"linear", {{"name", "linear_probe"}}}}},
                      {"grid", {{"train.lr_head", {0.001, 0.03}}}},
                      {"seeds", {1}}};
  write_text(dir / "study.json", study.dump());
  const std::string seg = shared("fixtures/segment/segmenter.pt");
  const CliResult r = run_osteofm("reproduce --manifest '" + (dir / "cohort.csv") + "' --study '" + (dir / "study.json") +
                                  "' --out '" + (dir / "out") + "' --segmenter '" + seg +
                                  "' --bootstrap 100 --split-ratios 0.5,0.2,0.3");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json state = json::parse(read_text(dir / "out/reproduce.json"));
  CHECK(state["segmentation"]["used"] == true);
  CHECK(state["segmentation"]["images"] == images.size());
  CHECK(fs::exists(dir.path / "out/data/segment/contact_sheet.png"));
  // The cohort the study ran on is the segmented one, with the split kept.
  const std::string cohort = read_text(dir / "out/data/segment/manifest.csv");
  CHECK(split_lines(cohort).front() == "image_id,patient_id,path,t_score,split,mask");
  const json e = json::parse(read_text(dir / "out/sweep/dinov2-linear/explain/explain.json"));
  CHECK(e["coverage"]["bone_scored"] == e["coverage"]["images"]);
  CHECK(e["delta_bone"]["all"]["mask_range"].is_array());
  CHECK_THAT(read_text(dir / "out/sweep/masks_qc.md"), Catch::Contains("34 of 34 images masked"));
  CHECK_THAT(read_text(dir / "out/sweep/table.md"), Catch::Contains("Mask sensitivity"));
  // Resumed with another segmenter: refused, the study untouched.
  const CliResult again = run_osteofm("reproduce --out '" + (dir / "out") + "' --segmenter '" + (dir / "study.json") + "'");
  CHECK(again.code == 2);
  CHECK_THAT(again.err, Catch::Contains("was started with --segmenter"));
}

TEST_CASE("segment: data masks takes one binary PNG per structure, overlaps kept, same-named masks both kept",
          "[cli][image_io][segment]") {
  TempDir dir;
  const std::string img = shared("fixtures/segment/images/seg1.png");  // 640 x 599
  const int W = 640, H = 599;
  std::vector<uint8_t> spine(static_cast<size_t>(W) * H, 0), ribs = spine, scap = spine;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      spine[static_cast<size_t>(y) * W + x] = x < W / 2 ? 255 : 0;
      ribs[static_cast<size_t>(y) * W + x] = y < H / 2 ? 1 : 0;  // any non-zero value is inside
      scap[static_cast<size_t>(y) * W + x] = (x > 600) ? 255 : 0;
    }
  write_png_u8(dir / "a/spine.png", W, H, spine);
  write_png_u8(dir / "a/ribs.png", W, H, ribs);
  write_png_u8(dir / "b/ribs.png", W, H, scap);
  write_text(dir / "pairs.csv", "image,spine_png,rib_png,scap_png\n" + img + ",a/spine.png,a/ribs.png,\n" + img +
                                    ",,b/ribs.png,b/ribs.png\n");
  const CliResult r = run_osteofm("data masks '" + (dir / "pairs.csv") + "' --mask-col spine=spine_png --mask-col ribs=rib_png "
                                  "--mask-col scapulae=scap_png --out '" + (dir / "out") + "'");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const CsvTable t = parse_csv(read_text(dir / "out/masks.csv"), "masks.csv");
  REQUIRE(t.records.size() == 2);
  CHECK(t.records[0].fields[1] != t.records[1].fields[1]);  // the same image twice: two files
  int w = 0, h = 0;
  const auto first = read_png_u8(t.records[0].fields[1], &w, &h);
  CHECK(first[0] == (1 | 2));                                   // spine and ribs overlap top-left
  CHECK(first[static_cast<size_t>(H - 1) * W] == 1);            // spine only, bottom-left
  CHECK(first[static_cast<size_t>(W - 1)] == 2);                // ribs only, top-right
  const auto second = read_png_u8(t.records[1].fields[1], &w, &h);
  CHECK(second[static_cast<size_t>(W - 1)] == (2 | 8));         // ribs and scapulae from one file
  CHECK(second[0] == 0);                                        // no spine in that row
  const json regions = json::parse(read_text(dir / "out/regions.json"));
  CHECK(regions["bits"] == json({{"spine", 1}, {"ribs", 2}, {"scapulae", 8}}));
  // Mixing a label column with REGION=COLUMN pairs, or --map with them: one line, exit 2.
  const CliResult mixed = run_osteofm("data masks '" + (dir / "pairs.csv") + "' --mask-col spine=spine_png --map 255=lungs --out '" +
                                      (dir / "mixed") + "'");
  CHECK(mixed.code == 2);
  CHECK_THAT(mixed.err, Catch::Contains("not both"));
}
