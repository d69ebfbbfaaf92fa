// Every case of ../shared/fixtures/stats (sklearn, scipy, R pROC golden values), at the
// tolerances the fixtures state. Iterates the folder: new cases are picked up.
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "eval/bootstrap.hpp"
#include "eval/delong.hpp"
#include "eval/evaluate.hpp"
#include "eval/metrics.hpp"
#include "eval/normal.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {
const json& at_path(const json& root, const std::string& path) {
  auto dot = path.find('.');
  return dot == std::string::npos ? root.at(path) : root.at(path.substr(0, dot)).at(path.substr(dot + 1));
}
bool is_error(const json& v) { return v.is_object() && v.contains("error"); }

ScoredSet scored(const json& in, const char* key) {
  ScoredSet s;
  s.label = in.at("y_true").get<std::vector<int>>();
  for (const auto& row : in.at(key)) s.score.push_back({row[0].get<double>(), row[1].get<double>(), row[2].get<double>()});
  return s;
}
std::vector<double> col(const ScoredSet& s, int k) {
  std::vector<double> c;
  for (const auto& r : s.score) c.push_back(r[k]);
  return c;
}
std::vector<uint8_t> pos(const ScoredSet& s, int k) {
  std::vector<uint8_t> p;
  for (int l : s.label) p.push_back(l == k);
  return p;
}
void check_close(double got, const json& expected, double abs_tol, double rel_tol = 0) {
  const double e = expected.get<double>();
  CHECK(std::fabs(got - e) <= abs_tol + rel_tol * std::fabs(e));
}
std::vector<fs::path> cases() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(shared("fixtures/stats")))
    if (e.path().extension() == ".json") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void check_bootstrap(const std::string& name, const json& exp, const json& tol, const MetricEngine& engine,
                     const std::vector<uint32_t>& clusters, size_t units) {
  BootstrapOptions bo;
  bo.replicates = 10000;  // the fixtures' calibration: no bound outside tol in 17,800
  bo.seed = 20261122;
  bo.bca = true;
  const BootstrapResult r = bootstrap(engine, clusters, units, bo);
  const double exp_invalid = 1.0 - exp.at("valid_replicates").get<double>() / exp.at("replicates").get<double>();
  CHECK(std::fabs((1.0 - double(r.valid) / r.replicates) - exp_invalid) < 0.005);
  for (int m = 0; m < kNumMetrics; ++m) {
    for (const char* method : {"percentile", "bca"}) {
      INFO(name << " " << method << " " << metric_key(m));
      const json& e = at_path(exp.at(method), metric_key(m));
      const json& t = at_path(tol.at(method), metric_key(m));
      const Interval& got = std::string(method) == "bca" ? r.bca[m] : r.percentile[m];
      if (e.is_null()) {
        CHECK_FALSE(got.defined);
        continue;
      }
      REQUIRE(got.defined);
      const double tolerance = t.get<double>();
      CHECK(std::fabs(got.lower - e[0].get<double>()) <= tolerance);
      CHECK(std::fabs(got.upper - e[1].get<double>()) <= tolerance);
    }
  }
}
}  // namespace

TEST_CASE("stats: point metrics, confusion and DeLong match sklearn and pROC on every case", "[stats]") {
  int n_cases = 0;
  for (const auto& path : cases()) {
    ++n_cases;
    const json c = json::parse(read_text(path.string()));
    const std::string name = c.at("case");
    INFO(name);
    const json& in = c.at("inputs");
    const json& exp = c.at("expected");
    const double point_tol = c.at("tolerances").at("point").at("abs");
    const double dl_abs = c.at("tolerances").at("delong").at("abs"), dl_rel = c.at("tolerances").at("delong").at("rel");
    const ScoredSet s = scored(in, "y_score");
    MetricEngine engine(s);
    CHECK(engine.argmax_ties() == exp.at("argmax_ties").get<int>());
    const auto conf = engine.confusion();
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) CHECK(conf[a][b] == exp.at("confusion")[a][b].get<int64_t>());
    const MetricValues v = engine.point();
    for (int m = 0; m < kNumMetrics; ++m) {
      INFO(metric_key(m));
      const std::string key = metric_key(m);
      const std::string top = key.substr(0, key.find('.'));
      if (is_error(exp.at(top))) {
        // sklearn refuses the multi-class call as a whole; the macro AUC must be
        // undefined, the per-class binary AUCs are checked against
        // binary_auc_where_defined below, and evaluate() refuses (next test case).
        if (m == kAucMacro) CHECK(std::isnan(v[m]));
        continue;
      }
      const json& e = at_path(exp, key);
      if (e.is_null()) CHECK(std::isnan(v[m]));
      else check_close(v[m], e, point_tol);
    }
    if (exp.contains("binary_auc_where_defined")) {
      for (int k = 0; k < kNumClasses; ++k) {
        const json& e = exp["binary_auc_where_defined"][kClassNames[k]];
        const double got = RankedProblem(col(s, k), pos(s, k)).auc();
        if (is_error(e)) CHECK(std::isnan(got));
        else check_close(got, e, point_tol);
      }
    }
    for (int k = 0; k < kNumClasses; ++k) {
      const json& e = exp.at("delong").at(kClassNames[k]);
      INFO(kClassNames[k]);
      if (is_error(e)) {
        CHECK_THROWS_AS(delong(col(s, k), pos(s, k), 0.95, name), InputError);
        continue;
      }
      const DeLongResult d = delong(col(s, k), pos(s, k), 0.95, name);
      check_close(d.auc, e["auc"], dl_abs, dl_rel);
      check_close(d.variance, e["variance"], dl_abs, dl_rel);
      check_close(d.se, e["se"], dl_abs, dl_rel);
      check_close(d.lower, e["ci"][0], dl_abs, dl_rel);
      check_close(d.upper, e["ci"][1], dl_abs, dl_rel);
      CHECK(d.n_cases == e["n_cases"].get<size_t>());
      CHECK(d.n_controls == e["n_controls"].get<size_t>());
    }
    if (in.contains("y_score_b")) {
      const ScoredSet sb = scored(in, "y_score_b");
      const double p_abs = c["tolerances"]["p_value"]["abs"], p_rel = c["tolerances"]["p_value"]["rel"];
      for (int k = 0; k < kNumClasses; ++k) {
        const json& e = exp.at("delong_paired").at(kClassNames[k]);
        INFO("paired " << kClassNames[k]);
        if (is_error(e)) continue;
        const DeLongPaired d = delong_paired(col(s, k), col(sb, k), pos(s, k), 0.95, name);
        check_close(d.auc_a, e["auc_a"], dl_abs, dl_rel);
        check_close(d.auc_b, e["auc_b"], dl_abs, dl_rel);
        check_close(d.variance_a, e["variance_a"], dl_abs, dl_rel);
        check_close(d.variance_b, e["variance_b"], dl_abs, dl_rel);
        check_close(d.covariance, e["covariance"], dl_abs, dl_rel);
        check_close(d.z, e["z"], dl_abs, dl_rel);
        check_close(d.p_value, e["p_value"], p_abs, p_rel);
        check_close(d.diff_lower, e["diff_ci"][0], dl_abs, dl_rel);
        check_close(d.diff_upper, e["diff_ci"][1], dl_abs, dl_rel);
      }
    }
  }
  CHECK(n_cases >= 12);
}

TEST_CASE("stats: bootstrap percentile and BCa intervals match scipy on every case", "[stats][bootstrap]") {
  for (const auto& path : cases()) {
    const json c = json::parse(read_text(path.string()));
    const std::string name = c.at("case");
    const json& exp = c.at("expected");
    if (is_error(exp.at("bootstrap"))) continue;  // the absent-class case: see below
    const ScoredSet s = scored(c.at("inputs"), "y_score");
    MetricEngine engine(s);
    check_bootstrap(name, exp.at("bootstrap"), c.at("tolerances").at("bootstrap"), engine, {}, 0);
    if (exp.contains("bootstrap_clustered")) {
      size_t units = 0;
      const auto clusters = cluster_index(c.at("inputs").at("patient_id").get<std::vector<std::string>>(), &units);
      CHECK(units == exp.at("n_patients").get<size_t>());
      check_bootstrap(name + " clustered", exp.at("bootstrap_clustered"), c.at("tolerances").at("bootstrap_clustered"),
                      engine, clusters, units);
    }
  }
}

TEST_CASE("stats: an absent class is a clear refusal, other metrics stay defined", "[stats]") {
  const json c = json::parse(read_text(shared("fixtures/stats/absent_class1_n40.json")));
  Predictions p;
  p.source = "absent.csv";
  p.scored = scored(c.at("inputs"), "y_score");
  for (size_t i = 0; i < p.scored.size(); ++i) {
    p.image_id.push_back("i" + std::to_string(i));
    p.patient_id.push_back("p" + std::to_string(i));
  }
  CHECK_THROWS_WITH(evaluate(p, nullptr, EvalOptions{}), Catch::Contains("absent.csv: no osteopenia images"));
  MetricEngine engine(p.scored);
  const MetricValues v = engine.point();
  CHECK(std::isnan(v[kSensOsteopenia]));
  CHECK_FALSE(std::isnan(v[kSpecOsteopenia]));
  CHECK_FALSE(std::isnan(v[kAucOsteoporosisVsRest]));
}

TEST_CASE("stats: bootstrap does not depend on the thread count", "[stats][bootstrap]") {
  const json c = json::parse(read_text(shared("fixtures/stats/realistic_n500.json")));
  MetricEngine engine(scored(c.at("inputs"), "y_score"));
  BootstrapOptions bo;
  bo.replicates = 500;
  bo.threads = 1;
  const auto one = bootstrap(engine, {}, 0, bo);
  bo.threads = 3;
  const auto three = bootstrap(engine, {}, 0, bo);
  for (int m = 0; m < kNumMetrics; ++m) {
    CHECK(one.percentile[m].lower == three.percentile[m].lower);
    CHECK(one.percentile[m].upper == three.percentile[m].upper);
  }
}

TEST_CASE("stats: normal quantile and tails", "[stats]") {
  CHECK(normal_quantile(0.975) == Approx(1.959963984540054).epsilon(1e-15));
  CHECK(normal_quantile(0.5) == 0.0);
  CHECK(std::fabs(normal_quantile(1e-20) - (-9.262340089798408)) < 1e-12);
  CHECK(std::fabs(normal_cdf(normal_quantile(0.123)) - 0.123) < 1e-15);
  CHECK(two_sided_p(10.0) == Approx(1.523970604832105e-23).epsilon(1e-12));
  CHECK(quantile_type7({1, 2, 3, 4}, 0.25) == 1.75);
}
