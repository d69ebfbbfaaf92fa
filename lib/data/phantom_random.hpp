// The phantom's deterministic random streams (one per patient, exam and purpose), shared by
// the cohort (phantom.cpp) and the renderer (phantom_render.cpp).
#pragma once
#include <cmath>
#include <cstdint>

#include "core/random.hpp"

namespace osteofm::phantom_detail {

constexpr double kPi = 3.14159265358979323846;

struct Rng {
  SplitMix64 g;
  explicit Rng(uint64_t seed) : g(seed) {}
  double uniform(double a, double b) { return a + (b - a) * g.uniform(); }
  double normal(double mean, double sd) {  // Box-Muller
    double u1 = g.uniform(), u2 = g.uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
  }
};

// A seed for stream `b` of seed `a`.
inline uint64_t mix(uint64_t a, uint64_t b) {
  SplitMix64 s(a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull));
  return s.next();
}

}  // namespace osteofm::phantom_detail
