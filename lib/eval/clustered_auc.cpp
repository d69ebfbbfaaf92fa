#include "eval/clustered_auc.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "eval/normal.hpp"

namespace osteofm {

namespace {
// Fraction of `sorted` below x, ties counting 1/2.
double placement(const std::vector<double>& sorted, double x) {
  auto lo = std::lower_bound(sorted.begin(), sorted.end(), x);
  auto hi = std::upper_bound(lo, sorted.end(), x);
  return ((lo - sorted.begin()) + 0.5 * (hi - lo)) / static_cast<double>(sorted.size());
}
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / v.size();
}
// Sample covariance (n - 1 denominator); 0 for a single observation.
double sample_cov(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2) return 0.0;
  const double ma = mean(a), mb = mean(b);
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - ma) * (b[i] - mb);
  return s / (a.size() - 1);
}
// Per patient: the sum of (placement - AUC) over its cases and over its controls.
void cluster_sums(const AucComponents& c, const std::vector<uint8_t>& positive, const std::vector<uint32_t>& cluster_of,
                  size_t n_clusters, std::vector<double>& a, std::vector<double>& b) {
  a.assign(n_clusters, 0.0);
  b.assign(n_clusters, 0.0);
  size_t i10 = 0, i01 = 0;
  for (size_t i = 0; i < positive.size(); ++i) {
    if (positive[i]) a[cluster_of[i]] += c.v10[i10++] - c.auc;
    else b[cluster_of[i]] += c.v01[i01++] - c.auc;
  }
}
}  // namespace

AucComponents auc_components(const std::vector<double>& score, const std::vector<uint8_t>& positive,
                             const std::string& what) {
  std::vector<double> cases, controls;
  for (size_t i = 0; i < score.size(); ++i) (positive[i] ? cases : controls).push_back(score[i]);
  if (cases.empty()) throw InputError(what + ": no case observation, the AUC is undefined");
  if (controls.empty()) throw InputError(what + ": no control observation, the AUC is undefined");
  AucComponents r;
  std::vector<double> sc = cases, sn = controls;
  std::sort(sc.begin(), sc.end());
  std::sort(sn.begin(), sn.end());
  r.v10.resize(cases.size());
  r.v01.resize(controls.size());
  for (size_t i = 0; i < cases.size(); ++i) r.v10[i] = placement(sn, cases[i]);
  for (size_t j = 0; j < controls.size(); ++j) r.v01[j] = 1.0 - placement(sc, controls[j]);
  r.auc = mean(r.v10);
  return r;
}

AucComponents mean_components(const std::vector<AucComponents>& seeds) {
  AucComponents m = seeds.at(0);
  if (seeds.size() == 1) return m;
  const double k = static_cast<double>(seeds.size());
  m.auc = 0;
  std::fill(m.v10.begin(), m.v10.end(), 0.0);
  std::fill(m.v01.begin(), m.v01.end(), 0.0);
  for (const auto& s : seeds) {
    m.auc += s.auc / k;
    for (size_t i = 0; i < m.v10.size(); ++i) m.v10[i] += s.v10[i] / k;
    for (size_t j = 0; j < m.v01.size(); ++j) m.v01[j] += s.v01[j] / k;
  }
  return m;
}

double auc_covariance(const AucComponents& a, const AucComponents& b, const std::vector<uint8_t>& positive,
                      const std::vector<uint32_t>& cluster_of, size_t n_clusters) {
  const double M = static_cast<double>(a.v10.size()), N = static_cast<double>(a.v01.size());
  if (cluster_of.empty()) return sample_cov(a.v10, b.v10) / M + sample_cov(a.v01, b.v01) / N;
  std::vector<double> aa, ab, ba, bb;  // a/b sums of model a, then of model b
  cluster_sums(a, positive, cluster_of, n_clusters, aa, ab);
  cluster_sums(b, positive, cluster_of, n_clusters, ba, bb);
  double s10 = 0, s01 = 0, s11 = 0;
  for (size_t c = 0; c < n_clusters; ++c) {
    s10 += aa[c] * ba[c];
    s01 += ab[c] * bb[c];
    s11 += aa[c] * bb[c] + ab[c] * ba[c];
  }
  const double I = static_cast<double>(n_clusters);
  const double t10 = M > 1 ? s10 / (M * (M - 1)) : 0.0, t01 = N > 1 ? s01 / (N * (N - 1)) : 0.0;
  const double t11 = I > 1 ? I / (I - 1) * s11 / (M * N) : 0.0;
  return t10 + t01 + t11;
}

PairedAucTest paired_auc_test(const AucComponents& a, const AucComponents& b, const std::vector<uint8_t>& positive,
                              const std::vector<uint32_t>& cluster_of, size_t n_clusters, double conf_level) {
  bool repeats = false;
  if (!cluster_of.empty()) {
    std::vector<uint8_t> seen(n_clusters, 0);
    for (uint32_t c : cluster_of) {
      repeats = repeats || seen[c];
      seen[c] = 1;
    }
  }
  // One image per patient: DeLong's sample covariances (the clustered form gives the same
  // value, to rounding).
  const std::vector<uint32_t> none;
  const std::vector<uint32_t>& clusters = repeats ? cluster_of : none;
  PairedAucTest t;
  t.method = repeats ? "obuchowski" : "delong";
  t.auc_a = a.auc;
  t.auc_b = b.auc;
  t.difference = a.auc - b.auc;
  const double var = auc_covariance(a, a, positive, clusters, n_clusters) +
                     auc_covariance(b, b, positive, clusters, n_clusters) -
                     2.0 * auc_covariance(a, b, positive, clusters, n_clusters);
  t.se = std::sqrt(std::max(0.0, var));
  if (t.difference == 0.0 && t.se == 0.0) {
    t.z = 0.0;
    t.p = 1.0;
  } else {
    t.z = t.difference / t.se;
    t.p = two_sided_p(t.z);
  }
  const double zq = normal_quantile(0.5 + conf_level / 2.0);
  const double d = t.difference;
  if (std::fabs(d) >= 1.0 || t.se == 0.0) {
    t.lower = t.upper = d;
  } else {
    const double centre = std::atanh(d), half = zq * t.se / (1.0 - d * d);
    t.lower = std::tanh(centre - half);
    t.upper = std::tanh(centre + half);
  }
  return t;
}

}  // namespace osteofm
