// A dynamic parallel loop over [0, n) on `threads` workers (the caller's included).
// body(i, t) gets the item and the worker's index t in [0, threads), for per-thread buffers.
// The first exception thrown by any body is rethrown after every worker has stopped.
//
// The helpers are threads of one process-wide pool, started on first use and kept (it grows
// to the largest count asked for): a batch decode or a bootstrap does not start and join
// threads on every call. A body may itself call parallel_for: the caller works through
// its own loop, so an inner loop finishes even when every pool thread is busy.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace osteofm {

// The count every pool uses when it is given none: `osteofm --threads N` sets it (0: all cores).
inline std::atomic<int>& default_threads_slot() {
  static std::atomic<int> n{0};
  return n;
}
inline void set_default_threads(int n) { default_threads_slot() = n > 0 ? n : 0; }
// The thread count this process was given (osteofm --threads N), 0 when none: what its
// child processes are given too.
inline int requested_threads() { return default_threads_slot().load(); }

inline int resolve_threads(int requested) {
  if (requested > 0) return requested;
  if (const int d = default_threads_slot().load(); d > 0) return d;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Runs body(i, t) for every i in [0, n) on `workers` workers: the caller as t = 0, pool
// threads as t = 1..workers-1 (those that start before the loop runs out). Returns once
// every worker that started has stopped; the first exception is rethrown.
void run_parallel_loop(size_t n, int workers, const std::function<void(size_t, int)>& body);

template <typename F>
void parallel_for(size_t n, int threads, F&& body) {
  const int workers = std::max(1, std::min<int>(resolve_threads(threads), static_cast<int>(std::max<size_t>(n, 1))));
  if (workers == 1) {  // a batch decode with --threads 1: no pool, no lock, no allocation
    for (size_t i = 0; i < n; ++i) body(i, 0);
    return;
  }
  run_parallel_loop(n, workers, [&body](size_t i, int t) { body(i, t); });
}

}  // namespace osteofm
