// core/parallel.hpp: every item once, the worker index in range, the first exception
// rethrown, nested and concurrent loops, and helpers taken from one kept pool.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/parallel.hpp"

using namespace osteofm;

namespace {
std::atomic<int> threads_seen{0};
// Counts each thread that runs a body for the first time.
void note_thread() {
  thread_local bool counted = false;
  if (!counted) {
    counted = true;
    ++threads_seen;
  }
}
}  // namespace

TEST_CASE("parallel: every item runs once, on a worker index below the count asked for", "[parallel]") {
  std::vector<std::atomic<int>> runs(1000);
  std::atomic<int> bad_index{0};
  parallel_for(runs.size(), 4, [&](size_t i, int t) {
    ++runs[i];
    if (t < 0 || t >= 4) ++bad_index;
  });
  for (const auto& r : runs) CHECK(r == 1);
  CHECK(bad_index == 0);
  parallel_for(0, 4, [&](size_t, int) { FAIL("no item"); });
}

TEST_CASE("parallel: the first exception is rethrown once every worker has stopped", "[parallel]") {
  std::atomic<int> done{0};
  CHECK_THROWS_WITH(parallel_for(200, 4,
                                 [&](size_t i, int) {
                                   if (i == 17) throw std::runtime_error("item 17");
                                   ++done;
                                 }),
                    "item 17");
  CHECK(done < 200);
  // The pool is still usable afterwards.
  std::atomic<int> after{0};
  parallel_for(50, 4, [&](size_t, int) { ++after; });
  CHECK(after == 50);
}

TEST_CASE("parallel: loops inside loops, and loops from several threads at once, all finish", "[parallel]") {
  std::atomic<long> sum{0};
  parallel_for(8, 4, [&](size_t, int) { parallel_for(100, 4, [&](size_t j, int) { sum += static_cast<long>(j); }); });
  CHECK(sum == 8 * 4950);
  std::atomic<long> concurrent{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&] { parallel_for(300, 3, [&](size_t, int) { ++concurrent; }); });
  for (auto& c : callers) c.join();
  CHECK(concurrent == 900);
}

TEST_CASE("parallel: helpers come from one kept pool, not new threads on every call", "[parallel]") {
  parallel_for(64, 4, [&](size_t, int) { note_thread(); });  // the pool grows to what a call asks for
  const int before = threads_seen.load();
  for (int call = 0; call < 200; ++call)
    parallel_for(16, 4, [&](size_t, int) {
      note_thread();
      std::this_thread::yield();
    });
  // A thread per helper and call made ~600 new ones. The pool has at most twice the larger
  // of the cores and the largest call's helpers (other cases of this binary ask for more
  // than 4), whatever the timing.
  const int limit = 2 * static_cast<int>(std::max(32u, std::thread::hardware_concurrency()));
  CHECK(threads_seen.load() - before <= limit);
}
