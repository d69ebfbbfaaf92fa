// Every case of ../shared/fixtures/stats (sklearn, scipy, R pROC golden values), at the
// tolerances the fixtures state. Iterates the folder: new cases are picked up.
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "eval/bootstrap.hpp"
#include "eval/clustered_auc.hpp"
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

namespace {
// The clustered covariance of two AUCs as auc_covariance defines it, written out from psi
// over every case-control pair (no placements, no sorting); `cross`: the case-control term.
double written_out_covariance(const std::vector<double>& a, const std::vector<double>& b,
                              const std::vector<uint8_t>& positive, const std::vector<uint32_t>& cluster, size_t I,
                              double* cross) {
  const auto psi = [](double x, double y) { return x > y ? 1.0 : x == y ? 0.5 : 0.0; };
  // Per model: cluster sums of (placement - AUC) over cases (s10) and controls (s01).
  auto sums = [&](const std::vector<double>& s, std::vector<double>& s10, std::vector<double>& s01) {
    std::vector<double> cases, controls;
    for (size_t i = 0; i < s.size(); ++i) (positive[i] ? cases : controls).push_back(s[i]);
    double auc = 0;
    for (double x : cases)
      for (double y : controls) auc += psi(x, y) / (double(cases.size()) * controls.size());
    s10.assign(I, 0);
    s01.assign(I, 0);
    for (size_t i = 0; i < s.size(); ++i) {
      double v = 0;
      if (positive[i]) {
        for (double y : controls) v += psi(s[i], y) / controls.size();
        s10[cluster[i]] += v - auc;
      } else {
        for (double x : cases) v += psi(x, s[i]) / cases.size();
        s01[cluster[i]] += v - auc;
      }
    }
    return std::make_pair(double(cases.size()), double(controls.size()));
  };
  std::vector<double> a10, a01, b10, b01;
  const auto [M, N] = sums(a, a10, a01);
  sums(b, b10, b01);
  double t10 = 0, t01 = 0, t11 = 0;
  for (size_t c = 0; c < I; ++c) {
    t10 += a10[c] * b10[c];
    t01 += a01[c] * b01[c];
    t11 += a10[c] * b01[c] + a01[c] * b10[c];
  }
  *cross = t11;
  return t10 / (M * (M - 1)) + t01 / (N * (N - 1)) + double(I) / (I - 1) * t11 / (M * N);
}

// Scores of two correlated models on n images (a fixed LCG: no library randomness).
struct TwoModels {
  std::vector<double> a, b;
  std::vector<uint8_t> positive;
};
TwoModels two_models(size_t n) {
  TwoModels t;
  uint64_t state = 12345;
  auto uniform = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  for (size_t i = 0; i < n; ++i) {
    const uint8_t y = uniform() < 0.35;
    const double shared = uniform();
    t.positive.push_back(y);
    // Rounded to 0.05: ties within and across classes.
    t.a.push_back(std::round((0.5 * shared + 0.4 * uniform() + 0.3 * y) * 20) / 20);
    t.b.push_back(std::round((0.5 * shared + 0.6 * uniform() + 0.2 * y) * 20) / 20);
  }
  return t;
}
}  // namespace

TEST_CASE("stats: Obuchowski's clustered AUC variance is DeLong's with one image per patient, and counts a "
          "patient's repeated images once", "[stats]") {
  const TwoModels t = two_models(83);
  const AucComponents a = auc_components(t.a, t.positive, "a"), b = auc_components(t.b, t.positive, "b");
  const DeLongPaired d = delong_paired(t.a, t.b, t.positive, 0.95, "test");
  std::vector<uint32_t> own(t.a.size());
  for (size_t i = 0; i < own.size(); ++i) own[i] = static_cast<uint32_t>(i);
  // One image per patient: the clustered form is DeLong's (pROC's) variance and covariance.
  CHECK(auc_covariance(a, a, t.positive, own, own.size()) == Approx(d.variance_a).epsilon(1e-12));
  CHECK(auc_covariance(b, b, t.positive, own, own.size()) == Approx(d.variance_b).epsilon(1e-12));
  CHECK(auc_covariance(a, b, t.positive, own, own.size()) == Approx(d.covariance).epsilon(1e-12));
  const PairedAucTest single = paired_auc_test(a, b, t.positive, own, own.size(), 0.95);
  CHECK(single.method == "delong");
  CHECK(single.z == Approx(d.z).epsilon(1e-12));
  CHECK(single.p == Approx(d.p_value).epsilon(1e-12));

  // Every patient's image twice (two identical films): DeLong, blind to the patients, halves
  // the variance; the clustered variance stays at DeLong's on the originals, up to the
  // small-sample factors: per class S / (M(M-1)) becomes 4S / (2M(2M-1)).
  TwoModels twice;
  std::vector<uint32_t> patient;
  for (size_t i = 0; i < t.a.size(); ++i)
    for (int k = 0; k < 2; ++k) {
      twice.a.push_back(t.a[i]);
      twice.b.push_back(t.b[i]);
      twice.positive.push_back(t.positive[i]);
      patient.push_back(static_cast<uint32_t>(i));
    }
  const AucComponents a2 = auc_components(twice.a, twice.positive, "a2");
  const DeLongResult original = delong(t.a, t.positive, 0.95, "a");
  double s10 = 0, s01 = 0;
  for (double v : original.v10) s10 += (v - original.auc) * (v - original.auc);
  for (double v : original.v01) s01 += (v - original.auc) * (v - original.auc);
  const double M = static_cast<double>(original.n_cases), N = static_cast<double>(original.n_controls);
  const double expected = 4 * s10 / (2 * M * (2 * M - 1)) + 4 * s01 / (2 * N * (2 * N - 1));
  CHECK(auc_covariance(a2, a2, twice.positive, patient, t.a.size()) == Approx(expected).epsilon(1e-12));
  CHECK(delong(twice.a, twice.positive, 0.95, "a2").variance == Approx(original.variance / 2).epsilon(0.05));
  const PairedAucTest doubled = paired_auc_test(a2, auc_components(twice.b, twice.positive, "b2"), twice.positive,
                                                patient, t.a.size(), 0.95);
  CHECK(doubled.method == "obuchowski");
  CHECK(doubled.z == Approx(d.z).epsilon(0.02));  // not sqrt(2) times it, as DeLong would say

  // A patient with a case and a control: the cross term, against the definition written out
  // image by image (psi over all case-control pairs).
  std::vector<uint32_t> mixed(t.a.size());
  for (size_t i = 0; i < mixed.size(); ++i) mixed[i] = static_cast<uint32_t>(i / 3);
  const size_t I = (t.a.size() + 2) / 3;
  double cross = 0;
  const double written_out = written_out_covariance(t.a, t.a, t.positive, mixed, I, &cross);
  CHECK(auc_covariance(a, a, t.positive, mixed, I) == Approx(written_out).epsilon(1e-12));
  CHECK(cross != 0.0);

  // The difference's interval stays within [-1, 1] with two cases (the Wald one did not).
  const std::vector<uint8_t> few = {1, 1, 0, 0, 0, 0, 0, 0};
  const std::vector<double> good = {0.9, 0.8, 0.1, 0.2, 0.3, 0.1, 0.2, 0.4}, bad = {0.1, 0.35, 0.9, 0.8, 0.3, 0.5, 0.7, 0.4};
  const PairedAucTest small = paired_auc_test(auc_components(bad, few, "bad"), auc_components(good, few, "good"), few, {}, 0, 0.95);
  CHECK(small.difference == Approx(-1 + 1.0 / 12));
  CHECK(small.lower >= -1.0);
  CHECK(small.upper <= 1.0);
  CHECK(small.lower < small.difference);
  CHECK(small.upper > small.difference);
  const DeLongPaired wald = delong_paired(bad, good, few, 0.95, "few");
  CHECK(wald.diff_lower < -1.0);
}

TEST_CASE("stats: the mean of several seeds' AUCs has the mean placements as its components", "[stats]") {
  const TwoModels t = two_models(50);
  const AucComponents a = auc_components(t.a, t.positive, "a"), b = auc_components(t.b, t.positive, "b");
  const AucComponents m = mean_components({a, b});
  CHECK(m.auc == Approx((a.auc + b.auc) / 2).epsilon(1e-14));
  double v10 = 0;
  for (double v : m.v10) v10 += v / m.v10.size();
  CHECK(v10 == Approx(m.auc).epsilon(1e-14));
  // var((A + B) / 2) = (var A + var B + 2 cov) / 4.
  const double direct = auc_covariance(m, m, t.positive, {}, 0);
  const double expanded = (auc_covariance(a, a, t.positive, {}, 0) + auc_covariance(b, b, t.positive, {}, 0) +
                           2 * auc_covariance(a, b, t.positive, {}, 0)) / 4;
  CHECK(direct == Approx(expanded).epsilon(1e-12));
}

TEST_CASE("stats: on every fixture the clustered AUC covariance is its definition written out, and pROC's DeLong "
          "variance where each image is its own patient", "[stats]") {
  int clustered_cases = 0;
  for (const auto& file : cases()) {
    const json c = json::parse(read_text(file.string()));
    const std::string name = file.stem().string();
    const json& in = c.at("inputs");
    if (!in.contains("y_score_b")) continue;
    INFO(name);
    const ScoredSet s = scored(in, "y_score"), sb = scored(in, "y_score_b");
    // The fixture's patients, or one image each.
    std::vector<uint32_t> cluster(s.size());
    size_t I = s.size();
    for (size_t i = 0; i < s.size(); ++i) cluster[i] = static_cast<uint32_t>(i);
    if (in.contains("patient_id")) {
      cluster = cluster_index(in["patient_id"].get<std::vector<std::string>>(), &I);
      ++clustered_cases;
    }
    for (int k = 0; k < kNumClasses; ++k) {
      INFO(kClassNames[k]);
      const std::vector<uint8_t> positive = pos(s, k);
      const size_t cases_k = static_cast<size_t>(std::count(positive.begin(), positive.end(), 1));
      if (cases_k < 2 || cases_k + 2 > positive.size()) continue;  // the class's AUC needs both sides
      const AucComponents a = auc_components(col(s, k), positive, name), b = auc_components(col(sb, k), positive, name);
      double cross = 0;
      CHECK(auc_covariance(a, b, positive, cluster, I) ==
            Approx(written_out_covariance(col(s, k), col(sb, k), positive, cluster, I, &cross)).epsilon(1e-10).margin(1e-15));
      if (!in.contains("patient_id") && c["expected"]["delong"][kClassNames[k]].is_object() &&
          !is_error(c["expected"]["delong"][kClassNames[k]]))
        check_close(auc_covariance(a, a, positive, cluster, I), c["expected"]["delong"][kClassNames[k]]["variance"],
                    c["tolerances"]["delong"]["abs"].get<double>(), c["tolerances"]["delong"]["rel"].get<double>());
    }
  }
  CHECK(clustered_cases >= 2);
}
