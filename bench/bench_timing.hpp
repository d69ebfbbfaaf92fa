// Wall time per call of a benchmark body: one warm-up call, then at least `min_reps` calls
// and `min_seconds` seconds.
#pragma once
#include <chrono>

namespace osteofm::bench {

template <class F>
double seconds_per_call(F&& f, int min_reps = 3, double min_seconds = 0.5) {
  f();  // warm-up
  int reps = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double s = 0;
  while (reps < min_reps || s < min_seconds) {
    f();
    ++reps;
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return s / reps;
}

}  // namespace osteofm::bench
