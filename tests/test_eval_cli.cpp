// eval / compare / table from the command line, on predictions made from the stats fixtures.
#include <cmath>
#include <nlohmann/json.hpp>

#include "eval/predictions.hpp"
#include "eval/roc.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {
// Writes a fixture's model A (or B) as a predictions CSV; returns its path.
std::string fixture_predictions(const std::string& name, const std::string& path, const char* key = "y_score") {
  const json c = json::parse(read_text(shared("fixtures/stats/" + name + ".json")));
  const json& in = c.at("inputs");
  Predictions p;
  p.extra_header = {"site"};
  for (size_t i = 0; i < in.at("y_true").size(); ++i) {
    p.image_id.push_back("img" + std::to_string(i));
    p.patient_id.push_back(in.contains("patient_id") ? in["patient_id"][i].get<std::string>() : "P" + std::to_string(i));
    p.scored.label.push_back(in["y_true"][i].get<int>());
    const auto& s = in.at(key)[i];
    p.scored.score.push_back({s[0].get<double>(), s[1].get<double>(), s[2].get<double>()});
    p.extra.push_back({i % 2 ? "A" : "B, C"});
  }
  write_predictions(path, p);
  return path;
}
}  // namespace

TEST_CASE("eval: metrics.json from a run folder, values as sklearn's, written atomically", "[eval][cli][image_io]") {
  TempDir dir;
  const json c = json::parse(read_text(shared("fixtures/stats/clustered_p450.json")));
  fixture_predictions("clustered_p450", dir / "run/predictions_test.csv");
  // Predictions round-trip bit-exactly (shortest repr) with pass-through columns.
  const Predictions back = read_predictions(dir / "run/predictions_test.csv");
  CHECK(back.scored.score[7][2] == c["inputs"]["y_score"][7][2].get<double>());
  CHECK(back.extra[0][0] == "B, C");

  CliResult r = run_osteofm("eval --run '" + (dir / "run") + "' --cluster --bootstrap 3000 --seed 5");
  REQUIRE(r.code == 0);
  const json m = json::parse(read_text(dir / "run/metrics_test.json"));
  const json& e = c["expected"];
  CHECK(m["n"] == e["n"]);
  CHECK(m["n_patients"] == e["n_patients"]);
  CHECK(std::fabs(m["auc_macro"]["estimate"].get<double>() - e["auc_macro"].get<double>()) < 1e-12);
  CHECK(m["confusion"] == e["confusion"]);
  CHECK(m["bootstrap"]["clustered"] == true);
  CHECK(m["bootstrap"]["resample_unit"] == "patient");
  CHECK(m["bootstrap"]["replicates"] == 3000);
  CHECK(std::fabs(m["delong"]["osteoporosis"]["variance"].get<double>() -
                  e["delong"]["osteoporosis"]["variance"].get<double>()) < 1e-12);
  // Patients repeat here: the clustered variance beside DeLong's, larger for films of one
  // patient that move together.
  REQUIRE(m["delong"]["osteoporosis"].contains("obuchowski"));
  CHECK(m["delong"]["osteoporosis"]["obuchowski"]["variance"].get<double>() > 0);
  CHECK(m["delong"]["osteoporosis"]["obuchowski"]["patients"] == e["n_patients"]);
  // The clustered interval of this case: within 2x the 2,000-replicate tolerance.
  const double tol = c["tolerances"]["bootstrap_clustered"]["percentile"]["auc_macro"];
  const json& exp_ci = e["bootstrap_clustered"]["percentile"]["auc_macro"];
  CHECK(std::fabs(m["auc_macro"]["ci"][0].get<double>() - exp_ci[0].get<double>()) <= 2 * tol);
  CHECK(std::fabs(m["auc_macro"]["ci"][1].get<double>() - exp_ci[1].get<double>()) <= 2 * tol);
  CHECK(fs::file_size(dir / "run/metrics_test_roc.svg") > 1000);
  CHECK(fs::file_size(dir / "run/metrics_test_roc.png") > 1000);
  // Same seed, same numbers.
  CliResult again = run_osteofm("eval --predictions '" + (dir / "run/predictions_test.csv") +
                                "' --cluster --bootstrap 3000 --seed 5 --no-plots --threads 1 --out '" + (dir / "m2.json") + "'");
  REQUIRE(again.code == 0);
  CHECK(json::parse(read_text(dir / "m2.json"))["auc_macro"] == m["auc_macro"]);
}

TEST_CASE("eval: an absent class and bad predictions are exit 2 with one line", "[eval][cli]") {
  TempDir dir;
  fixture_predictions("absent_class1_n40", dir / "absent.csv");
  CliResult r = run_osteofm("eval --predictions '" + (dir / "absent.csv") + "' --out '" + (dir / "m.json") + "'");
  CHECK(r.code == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("absent.csv: no osteopenia images"));
  CHECK_FALSE(fs::exists(dir / "m.json"));

  write_text(dir / "bad.csv", "image_id,patient_id,label,p_normal,p_osteopenia,p_osteoporosis\na,P,1,0.2,0.3,0.5\nb,P,3,0.2,0.3,0.5\n");
  CliResult bad = run_osteofm("eval --predictions '" + (dir / "bad.csv") + "' --out '" + (dir / "m.json") + "'");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("bad.csv:3: row 2: label '3' is not 0, 1 or 2"));
  write_text(dir / "sum.csv", "image_id,patient_id,label,p_normal,p_osteopenia,p_osteoporosis\na,P,1,0.2,0.3,0.6\n");
  CHECK_THAT(run_osteofm("eval --predictions '" + (dir / "sum.csv") + "' --out x.json").err,
             Catch::Contains("row 1: probabilities sum to 1.1"));
}

TEST_CASE("compare: paired DeLong from the CLI matches pROC, mismatched rows are refused", "[eval][cli]") {
  TempDir dir;
  const json c = json::parse(read_text(shared("fixtures/stats/imbalanced_n1000.json")));
  const std::string a = fixture_predictions("imbalanced_n1000", dir / "a.csv");
  const std::string b = fixture_predictions("imbalanced_n1000", dir / "b.csv", "y_score_b");
  CliResult r = run_osteofm("compare --predictions '" + a + "' '" + b + "' --out '" + (dir / "cmp.json") + "'");
  REQUIRE(r.code == 0);
  const json j = json::parse(read_text(dir / "cmp.json"));
  for (const char* k : {"normal", "osteopenia", "osteoporosis"}) {
    const json& e = c["expected"]["delong_paired"][k];
    const json& got = j["comparisons_per_class"][k][0];
    const double p = got["p"], ep = e["p_value"];
    CHECK(std::fabs(p - ep) <= 1e-15 + 1e-9 * ep);
    CHECK(std::fabs(got["z"].get<double>() - e["z"].get<double>()) <= 1e-12 + 1e-9 * std::fabs(e["z"].get<double>()));
  }
  CHECK(j["comparisons"]["osteoporosis_vs_rest"][0]["z"] == j["comparisons_per_class"]["osteoporosis"][0]["z"]);

  // B without one image of A.
  std::string text = read_text(b);
  text.erase(text.find("\nimg5,") + 1, text.find('\n', text.find("\nimg5,") + 1) - text.find("\nimg5,"));
  write_text(dir / "b_short.csv", text);
  CliResult m = run_osteofm("compare --predictions '" + a + "' '" + (dir / "b_short.csv") + "' --out '" + (dir / "x.json") + "'");
  CHECK(m.code == 2);
  CHECK_THAT(m.err, Catch::Contains("image_id 'img5'") && Catch::Contains("is missing"));
}

TEST_CASE("table: one row per variant, ordered, ranked by bootstrap, validation-chosen sensitivity, three formats", "[eval][cli][image_io]") {
  TempDir dir;
  // Three models of the screening fixture on the same test images, each with validation predictions.
  const json c = json::parse(read_text(shared("fixtures/screening/realistic_v800_t1200.json")));
  const json& in = c["inputs"];
  auto split = [&](const json& sp, const json& scores, const std::string& prefix) {
    Predictions p;
    for (size_t i = 0; i < sp["y_true"].size(); ++i) {
      p.image_id.push_back(prefix + std::to_string(i));
      p.patient_id.push_back(sp["patient_id"][i].get<std::string>());
      p.scored.label.push_back(sp["y_true"][i].get<int>());
      p.scored.score.push_back({scores[i][0].get<double>(), scores[i][1].get<double>(), scores[i][2].get<double>()});
    }
    return p;
  };
  const std::vector<std::pair<std::string, json>> runs = {{"rad-dino-lora", in["test"]["y_score_models"]["B"]},
                                                          {"dinov2-lora", in["test"]["y_score"]},
                                                          {"openclip-linear-probe", in["test"]["y_score_models"]["D"]}};
  for (const auto& [run, scores] : runs) {
    write_predictions(dir / (run + "/predictions_test.csv"), split(in["test"], scores, "t"));
    write_predictions(dir / (run + "/predictions_val.csv"), split(in["val"], in["val"]["y_score"], "v"));
    REQUIRE(run_osteofm("eval --run '" + (dir / run) + "' --bootstrap 200 --no-plots").code == 0);
  }
  write_text(dir / "openclip-linear-probe/config.json", R"({"backbone": "openclip-vitb16", "strategy": "linear-probe"})");
  write_text(dir / "openclip-linear-probe/status.json", R"({"state": "done", "trainable_parameters": 2307})");
  write_text(dir / "dinov2-lora/explain/explain.json",
             R"({"regions": {"bits": {"ribs": 2, "spine": 1}, "controls": []},
                  "delta_bone": {"all": {"estimate": 0.12, "ci": [0.08, 0.16]}, "auc_below_0.5": ["all_bones_occluded"],
                                 "area_control": {"draws": 3, "delta_bone_minus_control": {"estimate": 0.1, "ci": [0.05, 0.15]}},
                                 "per_region": {"ribs": {"estimate": 0.02, "ci": [-0.01, 0.05]},
                                                "spine": {"estimate": 0.05, "ci": [0.01, 0.09]}}}, "iou_bone": {"all": {"estimate": 0.31, "ci": [0.29, 0.33]},
                  "reference": {"all": {"normalised": {"estimate": 0.45, "ci": [0.4, 0.5]}}}}})");
  CliResult md = run_osteofm("table '" + dir.path.string() + "'");
  INFO(md.err);
  REQUIRE(md.code == 0);
  const auto first = md.out.find("| openclip-vitb16 | linear-probe | 2.3k |");
  const auto second = md.out.find("| dinov2 | lora |");
  const auto third = md.out.find("| rad-dino | lora |");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(third != std::string::npos);
  CHECK((first < second && second < third));
  // The best (A) is bold; D, far below it (DeLong p ~ 1e-8), is not.
  const json best = json::parse(read_text(dir / "dinov2-lora/metrics_test.json"));
  char macro[16];
  std::snprintf(macro, sizeof macro, "%.3f", best["auc_macro"]["estimate"].get<double>());
  CHECK_THAT(md.out, Catch::Contains(std::string("| dinov2 | lora |  | **") + macro + " ["));
  CHECK_THAT(md.out, Catch::Contains("| openclip-vitb16 | linear-probe | 2.3k | 0."));
  CHECK_THAT(md.out, Catch::Contains("| 0.120 [0.080, 0.160] † | 0.100 [0.050, 0.150] | 0.310 [0.290, 0.330] | 0.450 [0.400, 0.500] |"));
  CHECK_THAT(md.out, Catch::Contains("mean of 3 draws). It reads as the part of Δbone about bone only when the "
                                     "control's own loss is at least 0."));
  CHECK_THAT(md.out, Catch::Contains("†: the fill drove the occluded AUC below 0.5"));
  CHECK_THAT(md.out, Catch::Contains("Norm.: (IoU - chance) / (ceiling - chance)"));
  // Sensitivity at the validation-chosen Youden threshold, with its interval, and the footnotes.
  const json& sens = best["endpoints"]["osteoporosis_vs_rest"]["at_threshold"]["youden"]["sensitivity"];
  char sens_text[64];
  std::snprintf(sens_text, sizeof sens_text, "%.3f [%.3f, %.3f]", sens["estimate"].get<double>(),
                sens["ci"][0].get<double>(), sens["ci"][1].get<double>());
  CHECK_THAT(md.out, Catch::Contains(sens_text));
  CHECK_THAT(md.out, Catch::Contains("Youden threshold chosen on the validation split"));
  CHECK_THAT(md.out, Catch::Contains("200 patient-clustered percentile bootstrap replicates"));
  CHECK_THAT(md.out, Catch::Contains("Holm over the 2 pairs with the best"));
  CHECK(fs::exists(dir / "table.md"));
  CHECK(fs::exists(dir / "roc_macro.svg"));
  CHECK(fs::exists(dir / "roc_macro.png"));
  CliResult csv = run_osteofm("table '" + dir.path.string() + "' --format csv");
  CHECK_THAT(csv.out, Catch::StartsWith("backbone,strategy,trainable_parameters,auc_macro,"));
  // --regions: the per-region add-back Δbone, columns in the region table's order (spine,
  // bit 1, before ribs, bit 2), blank for runs without explain.
  CliResult regions = run_osteofm("table '" + dir.path.string() + "' --regions");
  REQUIRE(regions.code == 0);
  const std::string rt = read_text(dir / "table_regions.md");
  CHECK_THAT(rt, Catch::StartsWith("| Backbone | Strategy | Δbone(spine) | Δbone(ribs) |"));
  CHECK_THAT(rt, Catch::Contains("| dinov2 | lora | 0.050 [0.010, 0.090] | 0.020 [-0.010, 0.050] |"));
  CHECK_THAT(rt, Catch::Contains("| rad-dino | lora |  |  |"));
  CliResult regions_tex = run_osteofm("table '" + dir.path.string() + "' --regions --format latex");
  CHECK(regions_tex.code == 0);
  CHECK_THAT(read_text(dir / "table_regions.tex"), Catch::Contains("dinov2 & lora & 0.050 [0.010, 0.090] & 0.020"));
  CliResult tex = run_osteofm("table '" + dir.path.string() + "' --format latex");
  CHECK_THAT(tex.out, Catch::Contains(std::string("\\textbf{") + macro) && Catch::Contains("\\bottomrule"));
  // compare --sweep: the same ranking, written beside the runs.
  CliResult cmp = run_osteofm("compare --sweep '" + dir.path.string() + "' --bootstrap 300");
  REQUIRE(cmp.code == 0);
  const json cj = json::parse(read_text(dir / "compare.json"));
  CHECK(cj["ranking"]["best"] == "dinov2-lora");
  CHECK(cj["comparisons"]["osteoporosis_vs_rest"].size() == 3);
  CHECK(cj["bootstrap_differences"]["pairs"][0]["osteoporosis_vs_rest"]["sensitivity_youden"]["ci"].is_array());
  TempDir empty;
  CHECK(run_osteofm("table '" + empty.path.string() + "'").code == 2);
}

TEST_CASE("roc: trapezoidal area of the curve equals the rank AUC, macro curve is monotone", "[eval]") {
  const json c = json::parse(read_text(shared("fixtures/stats/ties_n300.json")));
  ScoredSet s;
  s.label = c["inputs"]["y_true"].get<std::vector<int>>();
  for (const auto& r : c["inputs"]["y_score"]) s.score.push_back({r[0], r[1], r[2]});
  const auto curves = class_roc_curves(s);
  for (int k = 0; k < 3; ++k)
    CHECK(std::fabs(curves[k].auc - c["expected"]["auc_per_class"][kClassNames[k]].get<double>()) < 1e-12);
  const RocCurve macro = macro_roc_curve(curves);
  CHECK(std::fabs(macro.auc - c["expected"]["auc_macro"].get<double>()) < 1e-12);
  // The drawn curve's own area is the number in its legend.
  double area = 0;
  for (size_t i = 1; i < macro.fpr.size(); ++i)
    area += (macro.fpr[i] - macro.fpr[i - 1]) * (macro.tpr[i] + macro.tpr[i - 1]) / 2;
  CHECK(area == Approx(macro.auc).margin(1e-12));
  // ... also on a small, tie-free set, where the old vertex sampling overstated it.
  const json small = json::parse(read_text(shared("fixtures/stats/realistic_n50.json")));
  ScoredSet s50;
  s50.label = small["inputs"]["y_true"].get<std::vector<int>>();
  for (const auto& r : small["inputs"]["y_score"]) s50.score.push_back({r[0], r[1], r[2]});
  const RocCurve m50 = macro_roc_curve(class_roc_curves(s50));
  double area50 = 0;
  for (size_t i = 1; i < m50.fpr.size(); ++i) area50 += (m50.fpr[i] - m50.fpr[i - 1]) * (m50.tpr[i] + m50.tpr[i - 1]) / 2;
  CHECK(area50 == Approx(small["expected"]["auc_macro"].get<double>()).margin(1e-12));
  for (size_t i = 1; i < macro.fpr.size(); ++i) {
    CHECK(macro.fpr[i] >= macro.fpr[i - 1]);
    CHECK(macro.tpr[i] >= macro.tpr[i - 1]);
  }
  CHECK(macro.tpr.back() == Approx(1.0));
}
