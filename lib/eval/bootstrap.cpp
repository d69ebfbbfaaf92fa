#include "eval/bootstrap.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <unordered_map>

#include "core/numbers.hpp"
#include "core/parallel.hpp"
#include "core/random.hpp"
#include "eval/normal.hpp"

namespace osteofm {

double quantile_type7(const std::vector<double>& sorted, double q) {
  if (sorted.empty() || std::isnan(q)) return kNaN;
  const double pos = (sorted.size() - 1) * std::clamp(q, 0.0, 1.0);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - lo;
  // numpy's form: a + (b - a) * t, exact when a == b.
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

DifferenceTest difference_test(std::vector<double> d, double conf_level) {
  DifferenceTest t;
  if (d.empty()) return t;
  std::sort(d.begin(), d.end());
  const double alpha = (1.0 - conf_level) / 2;
  t.ci = {quantile_type7(d, alpha), quantile_type7(d, 1 - alpha), true};
  const double le = static_cast<double>(std::upper_bound(d.begin(), d.end(), 0.0) - d.begin());
  const double ge = static_cast<double>(d.end() - std::lower_bound(d.begin(), d.end(), 0.0));
  const double p = std::min(1.0, 2.0 * std::min(le, ge) / d.size()), floor = 1.0 / (d.size() + 1);
  t.p = std::max(p, floor);
  t.p_is_bound = p < floor;
  return t;
}

std::vector<uint32_t> cluster_index(const std::vector<std::string>& ids, size_t* n_units) {
  std::unordered_map<std::string, uint32_t> index;
  std::vector<uint32_t> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = index.emplace(ids[i], static_cast<uint32_t>(index.size())).first;
    out[i] = it->second;
  }
  *n_units = index.size();
  return out;
}

void replicate_weights(uint64_t seed, size_t r, const std::vector<uint32_t>& cluster_of, size_t n_units, size_t n,
                       uint32_t* w, std::vector<uint32_t>& draws, std::vector<uint32_t>& unit_counts) {
  // Stream of replicate r: SplitMix64 seeded from (seed, r) through one mixing step.
  SplitMix64 seeder(seed ^ (0x9E3779B97F4A7C15ull * (r + 1)));
  SplitMix64 rng(seeder.next());
  std::fill(w, w + n, 0u);
  if (!cluster_of.empty()) {
    unit_counts.assign(n_units, 0u);
    draws.resize(n_units);
    rng.fill_below(static_cast<uint32_t>(n_units), draws.data(), n_units);
    for (uint32_t d : draws) unit_counts[d]++;
    for (size_t i = 0; i < n; ++i) w[i] = unit_counts[cluster_of[i]];
  } else {
    draws.resize(n);
    rng.fill_below(static_cast<uint32_t>(n), draws.data(), n);
    for (uint32_t d : draws) w[d]++;
  }
}

StatisticCI bootstrap_statistic(size_t n, const std::vector<uint32_t>& cluster_of, size_t n_units,
                                const BootstrapOptions& opt, const std::function<double(const uint32_t*)>& stat) {
  StatisticCI out;
  const std::vector<uint32_t> ones(n, 1u);
  out.estimate = stat(ones.data());
  out.replicates = opt.replicates;
  if (cluster_of.empty()) n_units = n;
  if (n == 0 || std::isnan(out.estimate)) return out;
  const int threads = resolve_threads(opt.threads);
  std::vector<double> values(static_cast<size_t>(opt.replicates), kNaN);
  std::vector<std::vector<uint32_t>> weights(threads, std::vector<uint32_t>(n)), draws(threads), counts(threads);
  parallel_for(static_cast<size_t>(opt.replicates), threads, [&](size_t r, int t) {
    replicate_weights(opt.seed, r, cluster_of, n_units, n, weights[t].data(), draws[t], counts[t]);
    values[r] = stat(weights[t].data());
  });
  std::vector<double> sorted;
  for (double v : values)
    if (!std::isnan(v)) sorted.push_back(v);
  out.values = std::move(values);
  out.valid = static_cast<int>(sorted.size());
  if (sorted.empty()) return out;
  std::sort(sorted.begin(), sorted.end());
  const double alpha = (1.0 - opt.conf_level) / 2.0;
  out.ci = {quantile_type7(sorted, alpha), quantile_type7(sorted, 1.0 - alpha), true};
  return out;
}

BootstrapResult bootstrap(const MetricEngine& engine, const std::vector<uint32_t>& cluster_of, size_t n_units,
                          const BootstrapOptions& opt, const ExtraStatistics& extra) {
  const size_t n = engine.size();
  const bool clustered = !cluster_of.empty();
  if (!clustered) n_units = n;
  BootstrapResult res;
  res.unit = clustered ? "patient" : "image";
  res.n_units = n_units;
  res.replicates = opt.replicates;
  res.estimate = engine.point();
  const int threads = resolve_threads(opt.threads);
  // Columns: the fixed metrics, then the extra statistics.
  const size_t width = kNumMetrics + extra.count;
  auto compute_row = [&](const uint32_t* w, double* row) {
    const MetricValues v = engine.compute(w);
    std::copy(v.begin(), v.end(), row);
    if (extra.count) extra.compute(w, row + kNumMetrics);
  };
  std::vector<double> point(width);
  {
    const std::vector<uint32_t> ones(n, 1u);
    compute_row(ones.data(), point.data());
  }
  res.extra_estimate.assign(point.begin() + kNumMetrics, point.end());
  res.extra_percentile.assign(extra.count, Interval{});
  res.extra_bca.assign(extra.count, Interval{});
  res.extra_undefined.assign(extra.count, 0);

  // Replicates: values[r * width + m]; NaN rows mark invalid replicates.
  std::vector<double> values(static_cast<size_t>(opt.replicates) * width, kNaN);
  std::vector<std::vector<uint32_t>> weights(threads, std::vector<uint32_t>(n));
  std::vector<std::vector<uint32_t>> unit_counts(threads, std::vector<uint32_t>(clustered ? n_units : 0));
  std::vector<std::vector<uint32_t>> draws(threads, std::vector<uint32_t>(n_units));
  parallel_for(static_cast<size_t>(opt.replicates), threads, [&](size_t r, int t) {
    uint32_t* w = weights[t].data();
    replicate_weights(opt.seed, r, cluster_of, n_units, n, w, draws[t], unit_counts[t]);
    if (!engine.all_classes_present(w)) return;
    compute_row(w, values.data() + r * width);
  });

  std::vector<std::vector<double>> sorted(width);
  for (int r = 0; r < opt.replicates; ++r) {
    const double* row = &values[static_cast<size_t>(r) * width];
    if (std::isnan(row[kAucMacro])) continue;  // invalid: a class was absent
    ++res.valid;
    for (size_t m = 0; m < width; ++m)
      if (!std::isnan(row[m])) sorted[m].push_back(row[m]);
  }
  const double alpha = (1.0 - opt.conf_level) / 2.0;
  auto percentile_of = [&](size_t m) -> Interval& {
    return m < kNumMetrics ? res.percentile[m] : res.extra_percentile[m - kNumMetrics];
  };
  auto bca_of = [&](size_t m) -> Interval& { return m < kNumMetrics ? res.bca[m] : res.extra_bca[m - kNumMetrics]; };
  for (size_t m = 0; m < width; ++m) {
    auto& s = sorted[m];
    std::sort(s.begin(), s.end());
    if (m >= kNumMetrics) res.extra_undefined[m - kNumMetrics] = res.valid - static_cast<int>(s.size());
    // A metric undefined in some valid replicates has no honest interval.
    if (s.empty() || static_cast<int>(s.size()) != res.valid) continue;
    percentile_of(m) = {quantile_type7(s, alpha), quantile_type7(s, 1.0 - alpha), true};
  }
  res.extra_difference_p.assign(extra.count, kNaN);
  res.extra_difference_p_is_bound.assign(extra.count, 0);
  for (size_t c : extra.differences) {
    if (!res.extra_percentile.at(c).defined) continue;
    const DifferenceTest t = difference_test(sorted[kNumMetrics + c], opt.conf_level);
    res.extra_difference_p[c] = t.p;
    res.extra_difference_p_is_bound[c] = t.p_is_bound;
  }
  if (!opt.bca || res.valid == 0) return res;

  // Jackknife over units (images, or patients with all their images).
  std::vector<std::vector<uint32_t>> images_of(n_units);
  for (size_t i = 0; i < n; ++i) images_of[clustered ? cluster_of[i] : i].push_back(static_cast<uint32_t>(i));
  std::vector<double> jack(n_units * width);
  std::vector<std::vector<uint32_t>> jw(threads, std::vector<uint32_t>(n, 1u));
  parallel_for(n_units, threads, [&](size_t u, int t) {
    uint32_t* w = jw[t].data();
    for (uint32_t i : images_of[u]) w[i] = 0;
    compute_row(w, jack.data() + u * width);
    for (uint32_t i : images_of[u]) w[i] = 1;
  });
  const double z_lo = normal_quantile(alpha), z_hi = normal_quantile(1.0 - alpha);
  for (size_t m = 0; m < width; ++m) {
    const auto& s = sorted[m];
    const double theta = point[m];
    if (!percentile_of(m).defined || std::isnan(theta)) continue;
    // z0 with ties counting 1/2.
    const auto below = std::lower_bound(s.begin(), s.end(), theta) - s.begin();
    const auto upto = std::upper_bound(s.begin(), s.end(), theta) - s.begin();
    const double z0 = normal_quantile((below + upto) / (2.0 * s.size()));
    double mean = 0;
    bool ok = true;
    for (size_t u = 0; u < n_units; ++u) {
      const double j = jack[u * width + m];
      ok = ok && !std::isnan(j);
      mean += j;
    }
    if (!ok) continue;  // leaving a unit out made the metric undefined
    mean /= n_units;
    double s2 = 0, s3 = 0;
    for (size_t u = 0; u < n_units; ++u) {
      const double d = mean - jack[u * width + m];
      s2 += d * d;
      s3 += d * d * d;
    }
    if (s2 == 0.0) continue;  // degenerate: acceleration 0/0, BCa undefined
    const double a = s3 / (6.0 * std::pow(s2, 1.5));
    const double a1 = normal_cdf(z0 + (z0 + z_lo) / (1.0 - a * (z0 + z_lo)));
    const double a2 = normal_cdf(z0 + (z0 + z_hi) / (1.0 - a * (z0 + z_hi)));
    if (std::isnan(a1) || std::isnan(a2)) continue;
    bca_of(m) = {quantile_type7(s, a1), quantile_type7(s, a2), true};
  }
  return res;
}

}  // namespace osteofm
