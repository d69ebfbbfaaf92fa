// Bootstrap confidence intervals of every metric, image-level or patient-clustered,
// percentile (numpy/R type 7) and BCa (scipy.stats.bootstrap 1.10 definitions).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/metrics.hpp"

namespace osteofm {

// The most replicates any verb takes (--bootstrap): p-values resolve to 1e-5, and memory
// stays in the hundreds of MB (eval keeps every replicate's statistics; 1e8 took 6 GB).
inline constexpr int kMaxBootstrapReplicates = 100000;

struct BootstrapOptions {
  int replicates = 2000;
  uint64_t seed = 1;
  double conf_level = 0.95;
  int threads = 0;    // <= 0: all cores
  bool bca = false;   // also compute BCa (needs a jackknife over units)
};

struct Interval {
  double lower = 0, upper = 0;
  bool defined = false;
};

// Further statistics of weighted images, computed on every replicate next to the fixed
// metrics (the same resamples): compute(w, out) writes `count` values, NaN where undefined.
struct ExtraStatistics {
  size_t count = 0;
  std::function<void(const uint32_t* w, double* out)> compute;
  // Columns that are paired differences: each also gets a bootstrap p against 0
  // (BootstrapResult::extra_difference_p, difference_test's definition).
  std::vector<size_t> differences;
};

struct BootstrapResult {
  std::string unit;              // "image" or "patient"
  size_t n_units = 0;
  int replicates = 0;            // drawn
  int valid = 0;                 // with all three classes present
  MetricValues estimate{};
  std::array<Interval, kNumMetrics> percentile{};
  std::array<Interval, kNumMetrics> bca{};  // defined only with options.bca
  // The extra statistics: point estimates, intervals, and in how many valid replicates
  // each was undefined (an interval needs it defined in all of them).
  std::vector<double> extra_estimate;
  std::vector<Interval> extra_percentile, extra_bca;
  std::vector<int> extra_undefined;
  // The two-sided bootstrap p of each ExtraStatistics::differences column (NaN where the
  // difference is undefined in some valid replicate), and whether it is the 1/(R+1) bound.
  std::vector<double> extra_difference_p;
  std::vector<uint8_t> extra_difference_p_is_bound;
};

// `cluster_of[i]` is image i's unit (0..n_units-1); empty means image-level. Each
// replicate draws n_units units with replacement and takes all their images. Replicate r
// has its own random stream derived from (seed, r): results do not depend on the thread
// count. Replicates missing a class are invalid: counted, and left out of every interval.
BootstrapResult bootstrap(const MetricEngine& engine, const std::vector<uint32_t>& cluster_of, size_t n_units,
                          const BootstrapOptions& options, const ExtraStatistics& extra = {});

// Image multiplicities w[0..n) of replicate r: the very draw bootstrap() makes for it
// (unit draws with replacement from the stream of (seed, r)). `draws` and `unit_counts`
// are scratch buffers.
void replicate_weights(uint64_t seed, size_t r, const std::vector<uint32_t>& cluster_of, size_t n_units, size_t n,
                       uint32_t* w, std::vector<uint32_t>& draws, std::vector<uint32_t>& unit_counts);

struct StatisticCI {
  double estimate = 0;  // the statistic with all weights 1
  Interval ci;          // percentile interval over the valid replicates
  int replicates = 0, valid = 0;
  // The statistic on replicate r (NaN: undefined there); empty when the estimate is
  // undefined. Statistics of several runs on the same images and resamples combine
  // replicate by replicate (a seed mean's interval).
  std::vector<double> values;
};

// Percentile bootstrap CI of any statistic of weighted images (`stat` returns NaN for a
// replicate where it is undefined: counted as invalid). Paired comparisons come for free:
// a statistic that is a difference of two metrics sees the same resample in both.
StatisticCI bootstrap_statistic(size_t n, const std::vector<uint32_t>& cluster_of, size_t n_units,
                                const BootstrapOptions& options, const std::function<double(const uint32_t*)>& stat);

// A paired difference's replicates (finite values): the percentile interval and the
// two-sided bootstrap p = min(1, 2 min(P*(d <= 0), P*(d >= 0))). With R replicates a p
// below 1/(R+1) cannot be told from 0: it is reported as that bound (p_is_bound), never 0.
struct DifferenceTest {
  Interval ci;
  double p = 0;
  bool p_is_bound = false;
};
DifferenceTest difference_test(std::vector<double> replicates, double conf_level);
// What the JSON says beside a bounded p.
inline constexpr const char* kBoundPText = "p < 1/(R+1): no replicate crossed 0";

// Linear interpolation between order statistics of sorted values (numpy.percentile
// default, R quantile type 7): position (B - 1) q.
double quantile_type7(const std::vector<double>& sorted, double q);

// Maps string ids to dense unit indices 0..k-1 (in order of first appearance).
std::vector<uint32_t> cluster_index(const std::vector<std::string>& ids, size_t* n_units);

}  // namespace osteofm
