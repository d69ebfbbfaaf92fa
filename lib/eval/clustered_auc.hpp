// Paired comparison of two AUCs on the same images from their structural components
// (placement values): DeLong (1988) when every patient has one image, Obuchowski's (1997)
// cluster-sum variance when patients contribute several. Works as well for the mean AUC
// of several seeds: the mean's components are the mean of the seeds' components, so the
// seed-averaged AUC is compared with the same variance.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace osteofm {

// An AUC and its placements, in image order: v10 for each case (its placement among the
// controls, ties 1/2), v01 for each control (its placement among the cases).
struct AucComponents {
  double auc = 0;
  std::vector<double> v10, v01;
};
// Throws InputError("<what>: no case observation" / "no control observation").
AucComponents auc_components(const std::vector<double>& score, const std::vector<uint8_t>& positive,
                             const std::string& what);
// The components of the mean AUC over several score vectors (seeds) of the same images.
AucComponents mean_components(const std::vector<AucComponents>& seeds);

// Covariance of two AUC estimates on the same images.
// Without clusters (cluster_of empty): DeLong's, sum of the sample covariances of the
// placements over n_cases and over n_controls (pROC's definition).
// With clusters (cluster_of[i]: image i's patient, 0..n_clusters-1): Obuchowski's
// cluster-sum form. With a_c = sum of (v10 - AUC) over the cases of patient c and b_c the
// same over its controls, cov = sum a_c a'_c / (M(M-1)) + sum b_c b'_c / (N(N-1))
//                              + I/(I-1) sum (a_c b'_c + b_c a'_c) / (MN)
// (M cases, N controls, I patients). Obuchowski writes I/((I-1)M) in place of 1/(M-1) on
// the first two terms; DeLong's factors are kept there so that with one image per patient
// (every cross term then 0) it is DeLong's variance exactly; the two agree as I grows.
double auc_covariance(const AucComponents& a, const AucComponents& b, const std::vector<uint8_t>& positive,
                      const std::vector<uint32_t>& cluster_of, size_t n_clusters);

struct PairedAucTest {
  std::string method;  // "delong" or "obuchowski"
  double auc_a = 0, auc_b = 0, difference = 0, se = 0, z = 0, p = 1;
  // Wald interval of the difference on the atanh scale (delta method), mapped back: it
  // stays inside [-1, 1] where the plain Wald interval does not with few cases.
  double lower = 0, upper = 0;
};
// "obuchowski" when some patient has more than one image, else "delong" (the same value).
// z = 0 and p = 1 when the difference and its standard error are both 0 (pROC).
PairedAucTest paired_auc_test(const AucComponents& a, const AucComponents& b, const std::vector<uint8_t>& positive,
                              const std::vector<uint32_t>& cluster_of, size_t n_clusters, double conf_level);

// Fewer cases or controls than this and the normal approximation of an AUC's sampling
// distribution (and a bootstrap interval's coverage) is poor: results say so.
inline constexpr size_t kFewCasesForInterval = 10;

}  // namespace osteofm
