#include "core/parallel.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace osteofm {

namespace {

// One parallel_for call, shared with the pool threads that help with it. A helper joins
// only while the loop is open; the caller closes it when its own work runs out and waits
// for the helpers that joined, so no helper touches the caller's body after it returns (a
// helper task still queued then finds the loop closed and does nothing).
struct Loop {
  size_t n = 0;
  const std::function<void(size_t, int)>* body = nullptr;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable idle;
  int active = 0;
  bool closed = false;
  std::exception_ptr failure;

  void work(int t) {
    for (size_t i = next++; i < n; i = next++) {
      try {
        (*body)(i, t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        next = n;  // stop handing out work
      }
    }
  }
  void help(int t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (closed) return;
      ++active;
    }
    work(t);
    std::lock_guard<std::mutex> lock(mu);
    if (--active == 0) idle.notify_all();
  }
};

class WorkerPool {
 public:
  // Queues helper t of `loop` (one of `helpers`), and starts a thread when none is idle to
  // take it: loops running at once each get their helpers, as when every call started its
  // own threads. The pool stops growing at twice the larger of the cores and the largest
  // call: past that a loop's caller does the work its helpers cannot.
  void submit(const std::shared_ptr<Loop>& loop, int t, int helpers) {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back({loop, t});
    largest_ = std::max(largest_, static_cast<size_t>(helpers));
    const size_t limit = 2 * std::max<size_t>(largest_, std::max(1u, std::thread::hardware_concurrency()));
    if (idle_ < tasks_.size() && threads_ < limit) {
      std::thread([this] { serve(); }).detach();
      ++threads_;
      ++idle_;  // counted as idle until it takes a task
    }
    ready_.notify_one();
  }

 private:
  struct Task {
    std::shared_ptr<Loop> loop;
    int t;
  };
  void serve() {
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [this] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
        --idle_;
      }
      task.loop->help(task.t);
      task.loop.reset();
      std::lock_guard<std::mutex> lock(mu_);
      ++idle_;
    }
  }
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<Task> tasks_;
  size_t threads_ = 0, largest_ = 0;
  size_t idle_ = 0;  // threads waiting for a task, or started and about to
};

// Never destroyed: its threads wait for work until the process ends, and a loop may run
// from another static's destructor.
WorkerPool& worker_pool() {
  static WorkerPool* pool = new WorkerPool;
  return *pool;
}

}  // namespace

void run_parallel_loop(size_t n, int workers, const std::function<void(size_t, int)>& body) {
  auto loop = std::make_shared<Loop>();
  loop->n = n;
  loop->body = &body;
  for (int t = 1; t < workers; ++t) worker_pool().submit(loop, t, workers - 1);
  loop->work(0);
  std::unique_lock<std::mutex> lock(loop->mu);
  loop->closed = true;
  loop->idle.wait(lock, [&] { return loop->active == 0; });
  if (loop->failure) std::rethrow_exception(loop->failure);
}

}  // namespace osteofm
