// The standard normal distribution to full double precision (no Boost, no R).
#pragma once

namespace osteofm {

// Phi(x) = P(Z <= x), through erfc so the tails keep their relative precision.
double normal_cdf(double x);
// Two-sided p-value of a z statistic: 2 * Phi(-|z|) = erfc(|z| / sqrt 2).
double two_sided_p(double z);
// Phi^-1(p) by Wichura's AS 241 (PPND16, relative error ~1e-16), as R's qnorm.
// Returns -inf / +inf at 0 / 1 and NaN outside [0, 1].
double normal_quantile(double p);

}  // namespace osteofm
