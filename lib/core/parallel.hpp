// A dynamic parallel loop over [0, n) on `threads` std::threads (the caller's included).
// body(i, t) gets the item and the worker's index t in [0, threads), for per-thread buffers.
// The first exception thrown by any body is rethrown after every worker has stopped.
#pragma once
#include <algorithm>
#include <atomic>
#include <exception>
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

template <typename F>
void parallel_for(size_t n, int threads, F&& body) {
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex mu;
  auto worker = [&](int t) {
    for (size_t i = next++; i < n; i = next++) {
      try {
        body(i, t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        next = n;  // stop handing out work
      }
    }
  };
  const int nt = std::max(1, std::min<int>(resolve_threads(threads), static_cast<int>(std::max<size_t>(n, 1))));
  std::vector<std::thread> pool;
  for (int t = 1; t < nt; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace osteofm
