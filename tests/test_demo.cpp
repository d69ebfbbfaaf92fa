// osteofm demo end to end at a small size: twelve variants, explain, the table; a second
// run resumes (keeps everything) instead of starting over.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "support.hpp"
#include "train/run_folder.hpp"

using namespace osteofm::test;
using nlohmann::json;

TEST_CASE("demo: twelve variants end to end, then resumes", "[demo][image_io]") {
  TempDir dir;
  const std::string cmd = "demo --out '" + (dir / "demo") + "' --patients 40 --size 64 --epochs 2 --bootstrap 100";
  const CliResult first = run_osteofm(cmd);
  INFO(first.err);
  REQUIRE(first.code == 0);
  const std::string table = read_text(dir / "demo/sweep/table.md");
  INFO(table);
  // header, rule, 12 variants, blank + ten notes (ranking, test n and input sizes, CIs, thresholds, calibration,
  // IoU map, Δbone definition and fill, area control, mask sensitivity, explain split)
  // (and a twelfth when the small test split has fewer than 10 osteoporosis images: the ¶ note)
  const bool few = table.find("¶: the test split has ") != std::string::npos;
  CHECK(count_lines(table) == 2 + 12 + 11 + (few ? 1 : 0));
  CHECK_THAT(table, Catch::Contains("Mask sensitivity: with every bone and control mask eroded and dilated by 1 px"));
  // The LaTeX table is plain ASCII (Δ, −, † as math), so pdflatex takes it as it is (was: raw UTF-8).
  const std::string latex = read_text(dir / "demo/sweep/table.tex");
  CHECK(std::count_if(latex.begin(), latex.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }) == 0);
  CHECK(latex.find("$\\Delta$bone") != std::string::npos);
  // Δbone beside its area-matched control, labelled (the "Δbone that can be read").
  CHECK(table.find("| Δbone − area control (contrast) |") != std::string::npos);
  CHECK(table.find("Δbone - area control (contrast): Δbone minus the AUC loss when as many pixels outside every bone") !=
        std::string::npos);
  CHECK(table.find("Δbone: AUC(original) - AUC(all bones occluded), mean fill (region occlusion; no saliency map).") !=
        std::string::npos);
  CHECK(table.find("Explainability scores on the test split.") != std::string::npos);
  // The fill and the map of every explainability column: the blur fill beside the mean
  // fill, IoU_bone on Grad-CAM and on occlusion maps (reproduce's default explain.maps).
  CHECK(table.find("| Δbone, mean fill | Δbone, blur fill |") != std::string::npos);
  CHECK(table.find("| IoU_bone (Grad-CAM) | IoU_bone norm. (Grad-CAM) |") != std::string::npos);
  CHECK(table.find("| IoU_bone (occlusion) | IoU_bone norm. (occlusion) |") != std::string::npos);
  CHECK(table.find("IoU_bone: all bones, top-k policy, on gradcam maps; also on occlusion maps") != std::string::npos);
  CHECK(json::parse(read_text(dir / "demo/sweep/dinov2-lora/explain-occlusion/explain.json"))["cam"] == "occlusion");
  CHECK(table.find("patient-clustered percentile bootstrap replicates") != std::string::npos);
  CHECK(table.find("Youden threshold chosen on the validation split") != std::string::npos);
  CHECK(table.find("Blank sensitivity/specificity") == std::string::npos);  // every variant has them
  CHECK(table.find("P(best)") != std::string::npos);
  const json cmp = json::parse(read_text(dir / "demo/sweep/compare.json"));
  CHECK(cmp["ranking"]["models"].size() == 12);
  CHECK(cmp["comparisons"]["osteoporosis_vs_rest"].size() == 66);
  for (const char* backbone : {"openclip-tiny", "dinov2-tiny", "chexagent-tiny", "rad-dino-tiny"})
    CHECK(table.find(backbone) != std::string::npos);
  CHECK(first.out.find("Where everything is") != std::string::npos);
  // The demo is osteofm reproduce on the phantom: its data check, one tensor cache per
  // input geometry (squash for CheXagent, torchvision offsets for OpenCLIP, HF ones for the
  // DINOv2 pair, which share one), every stage recorded as done.
  CHECK(fs::exists(dir.path / "demo/data/check.json"));
  for (const char* cache : {"112-squash", "112-crop", "128-crop-r128round"})
    CHECK(fs::exists(dir.path / "demo/caches" / cache / "cache.json"));
  const json study = json::parse(read_text(dir / "demo/study.json"));
  CHECK(study["backbones"]["rad-dino"]["data"]["manifest"] == study["backbones"]["dinov2"]["data"]["manifest"]);
  const json state = json::parse(read_text(dir / "demo/reproduce.json"));
  for (const char* stage : {"prepare", "sweep", "report"}) CHECK(state["stages"][stage]["state"] == "done");
  int explained = 0;
  for (const auto& e : fs::directory_iterator(dir.path / "demo/sweep"))
    if (fs::exists(e.path() / "explain/explain.json")) {
      const json ex = json::parse(read_text((e.path() / "explain/explain.json").string()));
      CHECK(ex["delta_bone"]["all"].contains("ci"));
      // eval's figures per variant: per-class ROC, reliability and decision curves.
      CHECK(fs::exists(e.path() / "metrics_test_roc.svg"));
      CHECK(fs::exists(e.path() / "metrics_test_reliability_osteoporosis_vs_rest.svg"));
      ++explained;
    }
  CHECK(explained == 12);

  // The study as one page: self-contained, and rendered by a real browser without a console
  // message or a network request. The screenshot stays in the build folder to be looked at.
  const std::string report = read_text(dir / "demo/report.html");
  CHECK(report.size() > 200000);
  CHECK(report.find("://") == std::string::npos);  // no address of any kind: every figure is a data: URI
  CHECK(report.find("<script") == std::string::npos);
  for (const char* section : {"id=\"cohort\"", "id=\"methods\"", "id=\"results\"", "id=\"explainability\"",
                              "id=\"tripod\"", "id=\"provenance\"", "Table 1. Characteristics", "Not run: "})
    CHECK(report.find(section) != std::string::npos);
  CHECK_THAT(first.out, Catch::Contains("report.html"));
  // The methods name the paired test compare.json used and every map explain ran on.
  const bool clustered = cmp["comparisons"]["osteoporosis_vs_rest"][0]["method"] == "obuchowski";
  CHECK_THAT(report, Catch::Contains(clustered ? "paired AUC tests with Obuchowski's clustered variance"
                                               : "paired DeLong tests with Holm"));
  CHECK_THAT(report, Catch::Contains("IoU_bone on gradcam maps (and on occlusion maps)"));
  // Twelve macro ROC curves: one colour per backbone, one line style per strategy.
  const std::string roc = read_text(dir / "demo/sweep/roc_macro.svg");
  CHECK(roc.find("stroke-dasharray=\"8,5\"") != std::string::npos);
  CHECK(roc.find("stroke-dasharray=\"2,4\"") != std::string::npos);
  const json provenance = json::parse(read_text(dir / "demo/provenance.json"));
  CHECK(provenance["inputs"][0]["sha256"].get<std::string>().size() == 64);
  CHECK(provenance["invocations"].size() == 1);
  CHECK(fs::exists(dir.path / "demo/sweep/dinov2-lora/provenance.json"));
  const std::string shot = std::string(OSTEOFM_BINARY_DIR) + "/report_screenshot.png";
  const BrowserRender page = render_in_chromium(dir / "demo/report.html", shot);
  INFO(page.log);
  REQUIRE(page.code == 0);
  CHECK(page.console.empty());
  CHECK(page.requests.empty());
  CHECK(fs::file_size(shot) > 20000);
  {
    // A second process on the same study is refused while one works there (both used to
    // run, and both marked the sweep failed).
    osteofm::RunLock holder(dir.path / "demo", "running a study (osteofm reproduce or demo)");
    const CliResult second = run_osteofm("reproduce --out '" + (dir / "demo") + "'");
    CHECK(second.code == 2);
    CHECK_THAT(second.err, Catch::Contains("is running a study (osteofm reproduce or demo) in this folder"));
  }
  {
    // A cohort changed between two runs of one study (an image moved from train to test) is
    // refused on resume, naming the file: its splits, caches and runs came from the old one.
    const std::string manifest = dir / "demo/phantom/manifest.csv";
    const std::string original = read_text(manifest);
    std::string moved = original;
    const size_t at = moved.find(",train\n");
    REQUIRE(at != std::string::npos);
    moved.replace(at, 7, ",test\n");
    write_text(manifest, moved);
    const CliResult changed = run_osteofm("reproduce --out '" + (dir / "demo") + "'");
    CHECK(changed.code == 2);
    CHECK_THAT(changed.err, Catch::Contains("the study's inputs changed since it started") &&
                                Catch::Contains("manifest.csv (manifest) changed: sha256"));
    write_text(manifest, original);
    CHECK(json::parse(read_text(dir / "demo/reproduce.json"))["input_hashes"]["manifest"]["sha256"].get<std::string>().size() == 64);
    // An image rewritten in place (the manifest untouched): named, refused; restored, resumed.
    const std::string image = dir / "demo/phantom/images/PH00001_1.png";
    const std::string pixels = read_text(image);
    write_text(image, read_text(dir / "demo/phantom/images/PH00002_1.png"));
    const CliResult touched = run_osteofm("reproduce --out '" + (dir / "demo") + "'");
    CHECK(touched.code == 2);
    CHECK_THAT(touched.err, Catch::Contains("PH00001_1.png changed or is gone"));
    write_text(image, pixels);
  }
  const auto stamp = fs::last_write_time(dir.path / "demo/sweep/dinov2-lora/explain/explain.json");
  // A kill between two of a variant's figures (the ROC drawn, the reliability diagram not):
  // the report stage draws them again, as the record written after the last one is missing.
  const fs::path lora = dir.path / "demo/sweep/dinov2-lora";
  REQUIRE(fs::exists(lora / "metrics_test_figures.json"));
  fs::remove(lora / "metrics_test_figures.json");
  fs::remove(lora / "metrics_test_reliability_osteoporosis_vs_rest.svg");

  const CliResult again = run_osteofm(cmd);
  INFO(again.err);
  REQUIRE(again.code == 0);
  CHECK(again.err.find("phantom cohort: kept") != std::string::npos);
  CHECK(again.err.find("already done, skipped") != std::string::npos);
  CHECK(fs::last_write_time(dir.path / "demo/sweep/dinov2-lora/explain/explain.json") == stamp);
  CHECK(read_text(dir / "demo/sweep/table.md") == table);
  CHECK_THAT(again.err, Catch::Contains("prepare: kept"));
  CHECK(fs::exists(lora / "metrics_test_reliability_osteoporosis_vs_rest.svg"));
  CHECK(fs::exists(lora / "metrics_test_figures.json"));

  // Other epochs in the same folder would mix two studies: refused, nothing rewritten.
  const std::string config = read_text(dir / "demo/demo-sweep.json");
  const CliResult other = run_osteofm("demo --out '" + (dir / "demo") + "' --patients 40 --size 64 --epochs 3 --bootstrap 100");
  CHECK(other.code == 2);
  CHECK_THAT(other.err, Catch::Contains("other --epochs"));
  CHECK(read_text(dir / "demo/demo-sweep.json") == config);
}
