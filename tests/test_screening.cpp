// Screening endpoints, validation-chosen thresholds, calibration, decision curves,
// subgroups, kappa and multi-model comparisons against ../shared/fixtures/screening (golden
// values from scikit-learn, statsmodels and SciPy), through the CLI; and the bad inputs.
#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "core/csv.hpp"
#include "eval/interval_text.hpp"
#include "eval/bootstrap.hpp"
#include "eval/compare.hpp"
#include "eval/evaluate.hpp"
#include "eval/predictions.hpp"
#include "eval/screening.hpp"
#include "report/table.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {
// Every *.json of a fixture folder, sorted (the READMEs: cases may be added).
std::vector<fs::path> fixture_cases(const std::string& folder) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(shared("fixtures/" + folder)))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// One split of a case as a predictions CSV (ids prefixed so val and test never share one).
Predictions split_predictions(const json& split, const std::string& prefix, const json& y_score, bool with_group) {
  Predictions p;
  if (with_group) p.extra_header = {"group"};
  for (size_t i = 0; i < split.at("y_true").size(); ++i) {
    p.image_id.push_back(prefix + std::to_string(i));
    p.patient_id.push_back(split.at("patient_id")[i].get<std::string>());
    p.scored.label.push_back(split["y_true"][i].get<int>());
    const auto& s = y_score[i];
    p.scored.score.push_back({s[0].get<double>(), s[1].get<double>(), s[2].get<double>()});
    if (with_group) p.extra.push_back({split.at("group")[i].get<std::string>()});
  }
  return p;
}

// Tolerances of the fixture README: counts and thresholds exact, calibration fits 1e-6
// abs + 1e-6 rel, everything else 1e-9 abs + 1e-7 rel.
struct Tolerance {
  bool exact = false;
  double abs = 1e-9, rel = 1e-7;
};
Tolerance tolerance_for(const std::string& path) {
  const auto last = path.substr(path.rfind('.') + 1);
  // ../transport: given thresholds and prevalence exact; fitted models 1e-6 abs + 1e-6 rel.
  if (path.rfind("transport.", 0) == 0) {
    static const std::set<std::string> exact = {"tp", "fp", "tn", "fn", "threshold", "prevalence"};
    if (exact.count(last)) return {true, 0, 0};
    if (path.find("recalibrat") != std::string::npos || path.find("baseline") != std::string::npos) return {false, 1e-6, 1e-6};
    return {};
  }
  static const std::set<std::string> counts = {"tp", "fp", "tn", "fn", "n", "n_positive"};
  if (counts.count(last) || path.find(".thresholds.") != std::string::npos) return {true, 0, 0};
  if (path.find("calibration.slope") != std::string::npos || path.find("calibration.intercept") != std::string::npos)
    return {false, 1e-6, 1e-6};
  return {};
}

// Every key of `expected` must be in `actual` with the value; a number may sit in an
// object's "estimate" (values that carry intervals), null in a null estimate.
void check_close(const json& expected, const json& actual, const std::string& path, int* compared) {
  INFO(path);
  if (expected.is_object()) {
    REQUIRE(actual.is_object());
    for (const auto& [k, v] : expected.items()) {
      INFO("key " << k);
      REQUIRE(actual.contains(k));
      check_close(v, actual[k], path + "." + k, compared);
    }
    return;
  }
  if (expected.is_array()) {
    REQUIRE(actual.is_array());
    REQUIRE(actual.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) check_close(expected[i], actual[i], path + "[" + std::to_string(i) + "]", compared);
    return;
  }
  const json& value = actual.is_object() && actual.contains("estimate") ? actual["estimate"] : actual;
  ++*compared;
  if (expected.is_null()) {
    CHECK(value.is_null());
    return;
  }
  if (expected.is_string()) {
    CHECK(value == expected);
    return;
  }
  REQUIRE(value.is_number());
  const double e = expected.get<double>(), a = value.get<double>();
  const Tolerance t = tolerance_for(path);
  if (t.exact) CHECK(a == e);
  else CHECK(std::fabs(a - e) <= t.abs + t.rel * std::fabs(e));
}

// eval --by: each group's AUC interval, its sensitivity and specificity at the validation
// Youden threshold (recounted here from the inputs), the pairwise differences, the
// calibration fits' intervals, and the console lines.
void check_groups_and_calibration_intervals(const json& m, const json& test, const std::string& out) {
  CHECK_THAT(out, Catch::Contains("osteoporosis_vs_rest by group:") && Catch::Contains("  AUC "));
  for (int e = 0; e < kNumEndpoints; ++e) {
    const json& ep = m["endpoints"][endpoint_key(e)];
    INFO(endpoint_key(e));
    const double threshold = ep["thresholds"]["youden"].get<double>();
    for (const auto& [g, gj] : ep["by_group"].items()) {
      INFO("group " << g);
      long long tp = 0, fn = 0, tn = 0, fp = 0;
      for (size_t i = 0; i < test["y_true"].size(); ++i) {
        if (test["group"][i] != g) continue;
        const int y = test["y_true"][i].get<int>();
        const bool positive = e == kOsteoporosisVsRest ? y == 2 : y >= 1;
        const double score = e == kOsteoporosisVsRest ? test["y_score"][i][2].get<double>()
                                                      : 1.0 - test["y_score"][i][0].get<double>();
        if (positive) (score >= threshold ? tp : fn)++;
        else (score >= threshold ? fp : tn)++;
      }
      CHECK(gj["sensitivity_youden"]["estimate"].get<double>() == Approx(double(tp) / (tp + fn)).epsilon(1e-12));
      CHECK(gj["specificity_youden"]["estimate"].get<double>() == Approx(double(tn) / (tn + fp)).epsilon(1e-12));
      if (!gj["auc"].is_number()) continue;
      REQUIRE(gj["auc_ci"].is_array());
      CHECK(gj["auc_ci"][0].get<double>() <= gj["auc"].get<double>());
      CHECK(gj["auc_ci"][1].get<double>() >= gj["auc"].get<double>());
    }
    REQUIRE(ep["by_group_differences"].is_array());
    CHECK(ep["by_group_differences"].size() == ep["by_group"].size() * (ep["by_group"].size() - 1) / 2);
    for (const auto& d : ep["by_group_differences"]) {
      if (!d["auc_difference"].is_number()) continue;
      CHECK(d["auc_difference"].get<double>() ==
            Approx(ep["by_group"][d["a"].get<std::string>()]["auc"].get<double>() -
                   ep["by_group"][d["b"].get<std::string>()]["auc"].get<double>()).margin(1e-12));
      CHECK(d["p"].get<double>() > 0.0);
      CHECK(d["p"].get<double>() <= 1.0);
    }
    const json& cal = ep["calibration"];
    for (const char* k : {"intercept", "slope"}) {
      if (!cal[k].is_number()) continue;
      if (!cal[std::string(k) + "_ci"].is_array()) {  // a replicate without the fit: said, not hidden
        CHECK_THAT(cal[std::string(k) + "_ci_reason"].get<std::string>(), Catch::Contains("valid bootstrap replicates"));
        continue;
      }
      CHECK(cal[std::string(k) + "_ci"][0].get<double>() <= cal[k].get<double>());
      CHECK(cal[std::string(k) + "_ci"][1].get<double>() >= cal[k].get<double>());
    }
  }
}

std::string join(const json& values) {
  std::string s;
  for (const auto& v : values) s += (s.empty() ? "" : ",") + format_double(v.get<double>());
  return s;
}
}  // namespace

TEST_CASE("screening fixtures: eval and compare from the CLI equal sklearn, statsmodels and SciPy", "[eval][cli][screening]") {
  const auto cases = fixture_cases("screening");
  REQUIRE(cases.size() >= 4);
  for (const auto& file : cases) {
    const json c = json::parse(read_text(file.string()));
    const std::string name = c.at("case").get<std::string>();
    INFO("case " << name);
    TempDir dir;
    const json& in = c.at("inputs");
    const json& expected = c.at("expected");
    write_predictions(dir / "val.csv", split_predictions(in.at("val"), "val-", in["val"]["y_score"], false));
    write_predictions(dir / "test.csv", split_predictions(in.at("test"), "test-", in["test"]["y_score"], true));
    std::string files = "'" + (dir / "test.csv") + "'", names = "A";
    for (const auto& [model, scores] : in["test"].at("y_score_models").items()) {
      write_predictions(dir / (model + ".csv"), split_predictions(in["test"], "test-", scores, true));
      files += " '" + (dir / (model + ".csv")) + "'";
      names += "," + model;
    }
    const std::string dca = join(expected["endpoints"]["osteoporosis_vs_rest"]["decision_curve"]["thresholds"]);
    CliResult r = run_osteofm("eval --predictions '" + (dir / "test.csv") + "' --val '" + (dir / "val.csv") +
                              "' --by group --bootstrap 300 --decision-thresholds " + dca + " --out '" + (dir / "m.json") +
                              "'" + (name.rfind("small", 0) == 0 ? "" : " --no-plots"));
    INFO(r.err);
    REQUIRE(r.code == 0);
    const json m = json::parse(read_text(dir / "m.json"));
    int compared = 0;
    check_close(expected.at("endpoints"), m.at("endpoints"), "endpoints", &compared);
    check_close(expected.at("multiclass"), m.at("multiclass"), "multiclass", &compared);
    CHECK(compared > 100);
    check_groups_and_calibration_intervals(m, in.at("test"), r.out);
    CHECK(m["bootstrap"]["clustered"] == true);  // the default
    CHECK(m["bootstrap"]["resample_unit"] == "patient");
    CHECK(m["endpoints"]["osteoporosis_vs_rest"]["thresholds"]["chosen_on"] == "validation");
    // Bootstrap intervals next to the Wilson ones, around the estimate.
    const json& sens = m["endpoints"]["low_bmd_vs_normal"]["at_threshold"]["youden"]["sensitivity"];
    REQUIRE(sens["ci"].is_array());
    CHECK(sens["ci"][0].get<double>() <= sens["estimate"].get<double>());
    CHECK(sens["ci"][1].get<double>() >= sens["estimate"].get<double>());

    // The golden comparisons are DeLong's, images independent: --no-cluster.
    CliResult cr = run_osteofm("compare --predictions " + files + " --names " + names + " --bootstrap 300 --no-cluster --out '" +
                               (dir / "c.json") + "'");
    INFO(cr.err);
    REQUIRE(cr.code == 0);
    const json cj = json::parse(read_text(dir / "c.json"));
    int ccompared = 0;
    check_close(expected.at("comparisons"), cj.at("comparisons"), "comparisons", &ccompared);
    CHECK(ccompared >= 14);
    CHECK(cj["comparisons"]["osteoporosis_vs_rest"][0]["method"] == "delong");
    // By default patients are clusters, and they repeat here: Obuchowski's variance, the
    // same AUCs, a different z, and Holm over those p.
    CliResult clustered = run_osteofm("compare --predictions " + files + " --names " + names + " --bootstrap 50 --out '" +
                                      (dir / "cc.json") + "'");
    REQUIRE(clustered.code == 0);
    const json cc = json::parse(read_text(dir / "cc.json"));
    std::vector<double> p;
    for (size_t k = 0; k < cc["comparisons"]["osteoporosis_vs_rest"].size(); ++k) {
      const json& got = cc["comparisons"]["osteoporosis_vs_rest"][k];
      const json& want = expected["comparisons"]["osteoporosis_vs_rest"][k];
      CHECK(got["method"] == "obuchowski");
      CHECK(got["auc_a"].get<double>() == Approx(want["auc_a"].get<double>()).epsilon(1e-12));
      CHECK(got["z"].get<double>() != Approx(want["z"].get<double>()).epsilon(1e-6));
      p.push_back(got["p"].get<double>());
    }
    const std::vector<double> adjusted = holm(p);
    for (size_t k = 0; k < adjusted.size(); ++k)
      CHECK(cc["comparisons"]["osteoporosis_vs_rest"][k]["p_holm"].get<double>() == Approx(adjusted[k]).epsilon(1e-12));
    if (name.rfind("small", 0) == 0)
      for (const std::string stem : {"m_roc", "m_reliability_osteoporosis_vs_rest", "m_reliability_low_bmd_vs_normal",
                                     "m_decision_osteoporosis_vs_rest", "m_decision_low_bmd_vs_normal"}) {
        CHECK(fs::file_size(dir / (stem + ".svg")) > 1000);
        CHECK(fs::exists(dir / (stem + ".png")) == (OSTEOFM_WITH_IMAGE_IO != 0));  // PNG needs OpenCV
      }
    if (name.rfind("small", 0) == 0) {
      // The ROC legend: n per class and each AUC with its interval, the bootstrap named.
      const std::string roc = read_text(dir / "m_roc.svg");
      CHECK_THAT(roc, Catch::Contains("osteoporosis (n=18, AUC 0.") && Catch::Contains("macro average (AUC 0."));
      CHECK_THAT(roc, Catch::Contains("95% CI: 300 patient-clustered bootstrap replicates"));
      // Square axes (equal scales on both rates), the legend below them, outside the curves.
      std::smatch box;
      REQUIRE(std::regex_search(roc, box, std::regex(R"re(<rect x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)" height="([0-9.]+)" fill="none")re")));
      CHECK(box[3].str() == box[4].str());
      const double box_bottom = std::stod(box[2].str()) + std::stod(box[4].str());
      std::smatch legend;
      REQUIRE(std::regex_search(roc, legend, std::regex(R"re(<text x="[0-9.]+" y="([0-9.]+)" font-size="12">macro average)re")));
      CHECK(std::stod(legend[1].str()) > box_bottom + 40);  // below the x-axis label too
    }
  }
}

TEST_CASE("screening: bootstrap intervals of threshold metrics use the AUCs' resamples", "[eval][screening]") {
  const json c = json::parse(read_text(shared("fixtures/screening/realistic_v800_t1200.json")));
  const json& in = c["inputs"];
  const Predictions val = split_predictions(in["val"], "v", in["val"]["y_score"], false);
  const Predictions test = split_predictions(in["test"], "t", in["test"]["y_score"], true);
  EvalOptions opt;
  opt.replicates = 400;
  opt.seed = 7;
  const json m = evaluate(test, &val, opt);
  const double t = m["endpoints"]["osteoporosis_vs_rest"]["thresholds"]["youden"];
  // The same statistic through the generic bootstrap: identical resamples (seed, replicate),
  // replicates without every class left out as the metric bootstrap does.
  size_t units = 0;
  const auto clusters = cluster_index(test.patient_id, &units);
  BootstrapOptions bo;
  bo.replicates = opt.replicates;
  bo.seed = opt.seed;
  const MetricEngine engine(test.scored);
  const StatisticCI sens = bootstrap_statistic(test.size(), clusters, units, bo, [&](const uint32_t* w) {
    if (!engine.all_classes_present(w)) return std::nan("");
    double tp = 0, fn = 0;
    for (size_t i = 0; i < test.size(); ++i)
      if (test.scored.label[i] == 2) (test.scored.score[i][2] >= t ? tp : fn) += w[i];
    return tp / (tp + fn);
  });
  const json& got = m["endpoints"]["osteoporosis_vs_rest"]["at_threshold"]["youden"]["sensitivity"];
  CHECK(got["ci"][0].get<double>() == sens.ci.lower);
  CHECK(got["ci"][1].get<double>() == sens.ci.upper);
  // Clustered: with patients repeating, the interval differs from the image-level one.
  CHECK(m["bootstrap"]["patients_repeat"] == true);
  opt.cluster = false;
  const json image_level = evaluate(test, &val, opt);
  CHECK(image_level["bootstrap"]["resample_unit"] == "image");
  CHECK(image_level["auc_macro"]["ci"] != m["auc_macro"]["ci"]);
}

TEST_CASE("screening: Wilson, Holm and kappa on hand-checked values", "[eval][screening]") {
  // Wilson 95% for 0/10 and 10/10: [0, 0.2775], [0.7225, 1] (Newcombe 1998, table I).
  const Proportion zero = wilson(0, 10), all = wilson(10, 10);
  CHECK(zero.lower == Approx(0.0).margin(1e-15));
  CHECK(zero.upper == Approx(0.27753).epsilon(1e-4));
  CHECK(all.lower == Approx(0.72247).epsilon(1e-4));
  CHECK_FALSE(wilson(0, 0).defined());
  // Holm: sorted p times (m - rank), running maximum, capped at 1.
  const auto h = holm({0.01, 0.04, 0.03, 0.5});
  CHECK(h[0] == Approx(0.04));
  CHECK(h[2] == Approx(0.09));
  CHECK(h[1] == Approx(0.09));  // 0.04 * 2 = 0.08, raised to the running max 0.09
  CHECK(h[3] == Approx(0.5));
  // Perfect agreement: kappa 1; one class only in both: undefined.
  CHECK(weighted_kappa({0, 1, 2, 2}, {0, 1, 2, 2}, true) == Approx(1.0));
  CHECK(std::isnan(weighted_kappa({1, 1}, {1, 1}, true)));
}

TEST_CASE("screening bad input: one-class validation, one-class subgroup, no validation, sums, shared images", "[eval][cli][screening]") {
  TempDir dir;
  const json c = json::parse(read_text(shared("fixtures/screening/small_v80_t90.json")));
  const json& in = c["inputs"];
  Predictions test = split_predictions(in["test"], "t", in["test"]["y_score"], true);
  // A subgroup whose images are all of one class for the osteoporosis endpoint.
  test.extra_header.push_back("site");
  for (size_t i = 0; i < test.size(); ++i) test.extra[i].push_back(test.scored.label[i] == 2 ? "north" : "south");
  write_predictions(dir / "test.csv", test);
  Predictions val = split_predictions(in["val"], "v", in["val"]["y_score"], false);
  Predictions one_class;
  for (size_t i = 0; i < val.size(); ++i)
    if (val.scored.label[i] != 2) {
      one_class.image_id.push_back(val.image_id[i]);
      one_class.patient_id.push_back(val.patient_id[i]);
      one_class.scored.label.push_back(val.scored.label[i]);
      one_class.scored.score.push_back(val.scored.score[i]);
    }
  write_predictions(dir / "val_no_osteoporosis.csv", one_class);

  CliResult r = run_osteofm("eval --predictions '" + (dir / "test.csv") + "' --val '" + (dir / "val_no_osteoporosis.csv") +
                            "' --by site --bootstrap 100 --no-plots --out '" + (dir / "m.json") + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json m = json::parse(read_text(dir / "m.json"));
  const json& op = m["endpoints"]["osteoporosis_vs_rest"];
  CHECK(op["thresholds"].is_null());
  CHECK_THAT(op["thresholds_reason"].get<std::string>(), Catch::Contains("no positive image"));
  CHECK_FALSE(op.contains("at_threshold"));
  CHECK(m["endpoints"]["low_bmd_vs_normal"]["thresholds"]["youden"].is_number());  // still has both classes
  CHECK(op["by_group"]["north"]["auc"].is_null());
  CHECK(op["by_group"]["north"]["auc_reason"] == "one class only in this group");
  CHECK(m["multiclass"]["auc_macro_by_group"]["south"].is_null());

  // No validation: said, and no threshold block (never a fallback to test).
  CliResult nv = run_osteofm("eval --predictions '" + (dir / "test.csv") + "' --bootstrap 100 --no-plots --out '" +
                             (dir / "nv.json") + "'");
  REQUIRE(nv.code == 0);
  CHECK_THAT(nv.out, Catch::Contains("no thresholds"));
  const json n = json::parse(read_text(dir / "nv.json"));
  CHECK(n["validation"].is_null());
  CHECK_THAT(n["validation_reason"].get<std::string>(), Catch::Contains("never on the test split"));
  CHECK(n["endpoints"]["osteoporosis_vs_rest"]["thresholds"].is_null());
  CHECK_FALSE(n["endpoints"]["osteoporosis_vs_rest"].contains("at_threshold"));
  CHECK(n["endpoints"]["osteoporosis_vs_rest"]["calibration"]["slope"].is_number());

  // The test split given as validation, an unknown --by column, rows not summing to 1 within 1e-6.
  CliResult same = run_osteofm("eval --predictions '" + (dir / "test.csv") + "' --val '" + (dir / "test.csv") +
                               "' --no-plots --out '" + (dir / "x.json") + "'");
  CHECK(same.code == 2);
  CHECK(count_lines(same.err) == 1);
  CHECK_THAT(same.err, Catch::Contains("thresholds must come from a separate validation split"));
  CliResult by = run_osteofm("eval --predictions '" + (dir / "test.csv") + "' --by scanner --no-plots --out '" +
                             (dir / "x.json") + "'");
  CHECK(by.code == 2);
  CHECK_THAT(by.err, Catch::Contains("--by column 'scanner' is not in the file (its extra columns: group, site)"));
  write_text(dir / "sum.csv", "image_id,patient_id,label,p_normal,p_osteopenia,p_osteoporosis\na,P,1,0.2,0.3,0.50001\n");
  CliResult sum = run_osteofm("eval --predictions '" + (dir / "sum.csv") + "' --no-plots --out '" + (dir / "x.json") + "'");
  CHECK(sum.code == 2);
  CHECK_THAT(sum.err, Catch::Contains("row 1: probabilities sum to 1.00001"));
  write_text(dir / "nan.csv", "image_id,patient_id,label,p_normal,p_osteopenia,p_osteoporosis\na,P,1,nan,0.5,0.5\n");
  CHECK(run_osteofm("eval --predictions '" + (dir / "nan.csv") + "' --no-plots --out '" + (dir / "x.json") + "'").code == 2);
  CliResult dca = run_osteofm("eval --predictions '" + (dir / "test.csv") + "' --decision-thresholds 0.1,1 --no-plots --out '" +
                              (dir / "x.json") + "'");
  CHECK(dca.code == 2);
  CHECK_THAT(dca.err, Catch::Contains("--decision-thresholds: 1 is not in (0, 1)"));
  CHECK_FALSE(fs::exists(dir / "x.json"));

  // compare: a label that differs is refused, naming the image.
  Predictions relabelled = test;
  relabelled.scored.label[3] = (relabelled.scored.label[3] + 1) % 3;
  write_predictions(dir / "relabelled.csv", relabelled);
  CliResult cmp = run_osteofm("compare --predictions '" + (dir / "test.csv") + "' '" + (dir / "relabelled.csv") +
                              "' --out '" + (dir / "c.json") + "'");
  CHECK(cmp.code == 2);
  CHECK_THAT(cmp.err, Catch::Contains("image_id 't3' has label"));
}

TEST_CASE("compare: ranking and paired bootstrap differences of several models", "[eval][screening]") {
  const json c = json::parse(read_text(shared("fixtures/screening/realistic_v800_t1200.json")));
  const json& in = c["inputs"];
  std::vector<ModelPredictions> models;
  const Predictions val = split_predictions(in["val"], "v", in["val"]["y_score"], false);
  models.push_back({"A", split_predictions(in["test"], "t", in["test"]["y_score"], false), val});
  for (const auto& [name, scores] : in["test"]["y_score_models"].items())
    models.push_back({name, split_predictions(in["test"], "t", scores, false), std::nullopt});
  models.push_back({"A-copy", models[0].test, val});
  CompareOptions opt;
  opt.replicates = 500;
  const json j = compare_models(models, opt);
  const json& ranking = j["ranking"];
  double total = 0;
  for (const auto& m : ranking["models"]) total += m["p_best"].get<double>();
  CHECK(total == Approx(1.0));
  // A and its copy tie in every replicate: they share P(best), their difference is 0 with p = 1.
  CHECK(ranking["models"][0]["p_best"] == ranking["models"][4]["p_best"]);
  CHECK(ranking["models"][4]["not_below_best"] == true);
  const json& pairs = j["bootstrap_differences"]["pairs"];
  const json& copy_pair = pairs[3];  // (A, A-copy)
  REQUIRE(copy_pair["b"] == "A-copy");
  CHECK(copy_pair["auc_macro"]["difference"] == 0.0);
  CHECK(copy_pair["auc_macro"]["p"] == 1.0);
  CHECK(copy_pair["osteoporosis_vs_rest"]["sensitivity_youden"]["difference"] == 0.0);
  // Models without validation predictions get no threshold differences, and say why.
  CHECK(pairs[0]["osteoporosis_vs_rest"].is_null());
  CHECK(pairs[0].contains("osteoporosis_vs_rest_reason"));
  // D is far below A (DeLong p ~ 1e-8): significantly below the best.
  for (const auto& m : ranking["models"])
    if (m["name"] == "D") CHECK(m["not_below_best"] == false);
  // No replicate of A - D crosses 0: its bootstrap p is the bound 1/(R+1), flagged, never 0.
  bool seen = false;
  for (const auto& pair : pairs)
    if (pair["a"] == "A" && pair["b"] == "D") {
      seen = true;
      const json& d = pair["auc_macro"];
      INFO(d.dump());
      CHECK(d["p"].get<double>() == Approx(1.0 / (500 + 1)));
      CHECK(d.contains("p_is_bound"));
    }
  CHECK(seen);
  CHECK(j["comparisons"]["osteoporosis_vs_rest"].size() == 10);  // 5 models: 10 pairs
}

namespace {
// A transport split with its covariates as passed-through columns.
Predictions transport_split(const json& split, const std::string& prefix) {
  Predictions p = split_predictions(split, prefix, split.at("y_score"), false);
  p.extra_header = {"age", "weight"};
  for (size_t i = 0; i < p.size(); ++i)
    p.extra.push_back({format_double(split["age"][i].get<double>()), format_double(split["weight"][i].get<double>())});
  return p;
}
}  // namespace

TEST_CASE("transport fixtures: recalibration, fixed thresholds, prevalence and the baseline from the CLI equal statsmodels "
          "and sklearn", "[eval][cli][transport]") {
  const auto cases = fixture_cases("transport");
  REQUIRE(cases.size() >= 2);
  for (const auto& file : cases) {
    const json c = json::parse(read_text(file.string()));
    INFO("case " << c.at("case").get<std::string>());
    TempDir dir;
    const json& in = c.at("inputs");
    write_predictions(dir / "val.csv", transport_split(in.at("val"), "val-"));
    write_predictions(dir / "test.csv", transport_split(in.at("test"), "test-"));
    std::string args = "eval --predictions '" + (dir / "test.csv") + "' --val '" + (dir / "val.csv") +
                       "' --recalibrate logistic --prevalence " + format_double(in["prevalence"].get<double>()) +
                       " --bootstrap 200 --no-plots --out '" + (dir / "m.json") + "' --baseline ";
    for (size_t k = 0; k < in["baseline_columns"].size(); ++k)
      args += (k ? "," : "") + in["baseline_columns"][k].get<std::string>();
    for (const auto& [endpoint, t] : in["fixed_thresholds"].items()) args += " --threshold " + endpoint + "=" + format_double(t.get<double>());
    const CliResult r = run_osteofm(args);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    const json m = json::parse(read_text(dir / "m.json"));
    int compared = 0;
    check_close(c.at("expected").at("endpoints"), m.at("endpoints"), "transport.endpoints", &compared);
    CHECK(compared > 60);
    // The differences carry a paired bootstrap CI and p around their estimate.
    const json& d = m["endpoints"]["osteoporosis_vs_rest"]["baseline"]["model_minus_baseline"];
    REQUIRE(d["ci"].is_array());
    CHECK(d["ci"][0].get<double>() <= d["estimate"].get<double>());
    CHECK(d["p"].get<double>() > 0);  // never exactly 0
  }
}

TEST_CASE("transport bad input: each a one-line error, or null with its reason", "[eval][cli][transport]") {
  const json c = json::parse(read_text(shared("fixtures/transport/transport_v250_t300.json")));
  TempDir dir;
  Predictions val = transport_split(c["inputs"]["val"], "val-"), test = transport_split(c["inputs"]["test"], "test-");
  write_predictions(dir / "val.csv", val);
  write_predictions(dir / "test.csv", test);
  const std::string base = "eval --predictions '" + (dir / "test.csv") + "' --bootstrap 50 --no-plots --out '" + (dir / "m.json") + "'";
  const std::string with_val = base + " --val '" + (dir / "val.csv") + "'";
  struct Bad {
    std::string args, says;
  };
  Predictions constant = val;
  for (auto& row : constant.extra) row[0] = "60";
  write_predictions(dir / "val_constant.csv", constant);
  Predictions text = val;
  text.extra[3][1] = "heavy";
  write_predictions(dir / "val_text.csv", text);
  const std::vector<Bad> bad = {
      {with_val + " --baseline age,height", "no column 'height'"},
      {base + " --val '" + (dir / "val_text.csv") + "' --baseline age,weight", "'heavy', not a number"},
      {base + " --val '" + (dir / "val_constant.csv") + "' --baseline age", "constant in the validation"},
      {with_val + " --threshold osteoporosis_vs_rest=1.5", "in [0, 1]"},
      {with_val + " --threshold hip_fracture=0.2", "unknown endpoint"},
      {with_val + " --prevalence 0", "--prevalence must be in (0, 1)"},
      {with_val + " --prevalence 1.2", "--prevalence must be in (0, 1)"},
      {base + " --recalibrate logistic", "needs validation predictions"},
      {base + " --baseline age", "needs validation predictions"},
  };
  for (const auto& b : bad) {
    INFO(b.args);
    const CliResult r = run_osteofm(b.args);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains(b.says));
    CHECK(split_lines(r.err).size() == 1);
    CHECK_FALSE(fs::exists(dir / "m.json"));
  }
  // A covariate that separates the outcome in validation: the MLE does not exist; the
  // baseline is null with the reason, the rest is reported.
  Predictions separating = val;
  // Age 200 for every osteoporosis image (the others keep theirs): osteoporosis vs rest is
  // separated, low BMD vs normal is not (osteopenia and normal ages overlap).
  for (size_t i = 0; i < separating.size(); ++i)
    if (separating.scored.label[i] == 2) separating.extra[i][0] = "200";
  write_predictions(dir / "val_sep.csv", separating);
  CliResult r = run_osteofm(base + " --val '" + (dir / "val_sep.csv") + "' --baseline age");
  INFO(r.err);
  REQUIRE(r.code == 0);
  json m = json::parse(read_text(dir / "m.json"));
  CHECK(m["endpoints"]["osteoporosis_vs_rest"]["baseline"]["coefficients"].is_null());
  CHECK_THAT(m["endpoints"]["osteoporosis_vs_rest"]["baseline"]["reason"].get<std::string>(), Catch::Contains("separate"));
  CHECK(m["endpoints"]["low_bmd_vs_normal"]["baseline"]["coefficients"].is_object());
  // Recalibration on a validation split without osteoporosis: null with the reason.
  Predictions no_pos = val;
  for (size_t i = 0; i < no_pos.size(); ++i)
    if (no_pos.scored.label[i] == 2) no_pos.scored.label[i] = 1;
  write_predictions(dir / "val_nopos.csv", no_pos);
  r = run_osteofm(base + " --val '" + (dir / "val_nopos.csv") + "' --recalibrate logistic");
  INFO(r.err);
  REQUIRE(r.code == 0);
  m = json::parse(read_text(dir / "m.json"));
  CHECK(m["endpoints"]["osteoporosis_vs_rest"]["recalibration"]["slope"].is_null());
  CHECK_THAT(m["endpoints"]["osteoporosis_vs_rest"]["recalibrated_reason"].get<std::string>(), Catch::Contains("one outcome"));
}

TEST_CASE("calibration: near-constant scores give no slope, with the reason, and the table marks the row",
          "[eval][screening]") {
  // A probe that predicts its prior: scores within 0.3 +- 0.002, a weak relation to the outcome.
  BinarySet flat;
  for (int i = 0; i < 200; ++i) {
    flat.positive.push_back(i % 4 == 0);
    flat.score.push_back(0.3 + 0.002 * std::sin(i * 0.7) + (i % 4 == 0 ? 0.0005 : 0.0));
  }
  const Calibration c = calibration(flat);
  CHECK(std::isnan(c.slope));
  CHECK(c.near_constant);
  CHECK_THAT(c.slope_reason, Catch::StartsWith("near-constant scores (SD of logit(p) "));
  CHECK_FALSE(std::isnan(c.intercept));  // calibration-in-the-large is still defined
  // Spread the same scores out and the slope is back.
  BinarySet spread = flat;
  for (auto& s : spread.score) s = 0.3 + (s - 0.3) * 100;
  CHECK_FALSE(std::isnan(calibration(spread).slope));

  SweepTable t;
  VariantRow r;
  r.run = "openclip-linear";
  r.backbone = "openclip";
  r.strategy = "linear_probe";
  r.auc_macro.value = 0.52;
  r.near_constant_scores = true;
  // Explainability labels: the blur fill beside the mean fill, the area control a contrast
  // marked where occluding the control raised the AUC (its own Δ's CI below 0).
  r.delta_bone = Estimate{0.12, 0.05, 0.19};
  r.delta_bone_fill = "mean";
  r.delta_bone_blur = Estimate{0.03, -0.01, 0.07};
  r.delta_bone_minus_control = Estimate{0.2, 0.1, 0.3};
  r.area_control_delta = Estimate{-0.08, -0.12, -0.04};  // its whole CI below 0
  r.area_control_draws = 3;
  r.grid_points = 3;  // two of them tied on validation
  r.selected = "lr_head=0.001";
  r.selection_tied = 2;
  r.sensitivity = Estimate{1.0, 1.0, 1.0};  // one osteoporosis image in the test split
  r.test_positives = 1;
  t.rows.push_back(r);
  const std::string md = format_table(t, "md");
  CHECK_THAT(md, Catch::Contains("| n.e. § |") && Catch::Contains("n.e. §: not estimable"));
  CHECK_THAT(md, Catch::Contains("| lr_head=0.001 (3) [tie of 2] |") && Catch::Contains("the first in grid order was kept"));
  CHECK_THAT(md, Catch::Contains("| 1.000 [1.000, 1.000] ¶ |") && Catch::Contains("¶: the test split has 1 osteoporosis image (fewer than 10)"));
  CHECK_THAT(md, Catch::Contains("| Δbone, mean fill | Δbone, blur fill | Δbone − area control (contrast) |"));
  CHECK_THAT(md, Catch::Contains("| 0.030 [-0.010, 0.070] | 0.200 [0.100, 0.300] ‡ |"));
  CHECK_THAT(md, Catch::Contains("‡: occluding the control raised the AUC"));
  const std::string latex = format_table(t, "latex");
  CHECK(std::count_if(latex.begin(), latex.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }) == 0);
  CHECK_THAT(latex, Catch::Contains("n.e.~\\S{}") && Catch::Contains("$^\\ddagger$"));
  const CsvTable csv = parse_csv(format_table(t, "csv"), "table.csv");
  CHECK(csv.records[0].fields.at(static_cast<size_t>(csv.column("near_constant_scores"))) == "1");
  CHECK(csv.records[0].fields.at(static_cast<size_t>(csv.column("calibration_slope"))).empty());
  CHECK(csv.records[0].fields.at(static_cast<size_t>(csv.column("area_control_raises_auc"))) == "1");
  CHECK(csv.records[0].fields.at(static_cast<size_t>(csv.column("delta_bone_blur"))) == "0.03");
}

TEST_CASE("interval_text: one formatter for every estimate with its interval", "[screening]") {
  CHECK(interval_text(0.81249, 0.7711, 0.85) == "0.812 [0.771, 0.850]");
  CHECK(interval_text(0.81249, std::nullopt, std::nullopt) == "0.812");
  CHECK(interval_text(0.5, std::nullopt, std::nullopt, 4, " [no interval]") == "0.5000 [no interval]");
  const nlohmann::json block = {{"estimate", 0.9}, {"ci", {0.8, nullptr}}};
  CHECK(interval_text(block, 4) == "0.9000 [0.8000, n/a]");
  CHECK(interval_text(nlohmann::json{{"estimate", nullptr}, {"ci", nullptr}}) == "n/a");
  CHECK(interval_text(nlohmann::json()) == "n/a");
  CHECK(interval_text(nlohmann::json{{"estimate", 0.25}, {"ci", nullptr}}) == "0.250");
}
