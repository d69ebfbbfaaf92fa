// The local executor: each training an osteofm child process of this one.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/layout.hpp"
#include "core/log.hpp"
#include "sweep/executor.hpp"

namespace osteofm {
namespace fs = std::filesystem;

namespace {
// Children die with the sweep: SIGTERM/SIGINT to the sweep is passed on to them (each
// stops at its next batch, its checkpoint kept), and each child asks the kernel for
// SIGTERM when its parent dies (even by SIGKILL).
void stop_children(const std::map<pid_t, std::pair<size_t, std::string>>& running) {
  for (const auto& [pid, v] : running) ::kill(pid, SIGTERM);
}

std::vector<std::string> train_argv(const SweepOptions& o, const TrainJob& job, const std::string& device) {
  std::vector<std::string> args = {"train", "--config", job.config.string(), "--out", job.run.string()};
  if (fs::exists(job.run / layout::kCheckpoints / layout::kLastCheckpoint)) args.push_back("--resume");
  if (!device.empty()) args.insert(args.end(), {"--set", "train.device=" + device});
  return child_command(o, args).words;
}

// Runs `jobs` as child processes, as many at once as GPUs listed (else one); finished runs
// are skipped, and so are those that failed before unless --resume. Returns the failures.
std::set<std::string> run_local_jobs(const std::vector<TrainJob>& jobs, const SweepOptions& o,
                                     const std::set<std::string>& failed_before) {
  std::vector<const TrainJob*> todo;
  std::set<std::string> failed_now;
  for (const auto& job : jobs) {
    if (run_finished(job.run)) {
      log_info("sweep", log_text(job.name, " already done, skipped"));
      continue;
    }
    if (!o.resume && failed_before.count(job.name)) {
      log_info("sweep", log_text(job.name, " failed in an earlier run, not retried (rerun with --resume to retry it)"));
      failed_now.insert(job.name);
      continue;
    }
    todo.push_back(&job);
  }
  const size_t slots = std::max<size_t>(1, o.gpus.size());
  std::map<pid_t, std::pair<size_t, std::string>> running;  // pid -> slot, job
  install_interrupt_handlers();
  bool stopping = false;
  std::vector<bool> busy(slots, false);
  size_t next = 0;
  const pid_t sweep_pid = ::getpid();
  while ((next < todo.size() && !stopping) || !running.empty()) {
    if (!stopping && interrupt_signal() != 0) {
      stopping = true;  // no new run; the running ones stop at their next batch
      stop_children(running);
      continue;
    }
    while (!stopping && next < todo.size() && running.size() < slots) {
      size_t slot = 0;
      while (busy[slot]) ++slot;
      const TrainJob& job = *todo[next++];
      const std::vector<std::string> args = train_argv(o, job, o.gpus.empty() ? "" : "cuda:" + o.gpus[slot]);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      log_info("sweep", log_text(job.name, (o.gpus.empty() ? "" : " on GPU " + o.gpus[slot])));
      const pid_t pid = fork();
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != sweep_pid) _exit(143);  // the sweep died before prctl took effect
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::execv(argv[0], argv.data());
        _exit(127);
      }
      if (pid < 0) throw RuntimeFailure("sweep: cannot start a process");
      busy[slot] = true;
      running[pid] = {slot, job.name};
    }
    int status = 0;
    // Polled, not blocked on: a signal that lands just before a blocking wait would go
    // unseen until a run ends by itself.
    const pid_t done = waitpid(-1, &status, WNOHANG);
    if (done == 0) {
      ::usleep(100 * 1000);
      continue;
    }
    if (done < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = running.find(done);
    if (it == running.end()) continue;
    busy[it->second.first] = false;
    if (stopping) {
      log_warning("sweep", log_text(it->second.second, " stopped"));
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      failed_now.insert(it->second.second);
      log_warning("sweep", log_text(it->second.second,
                                    " failed (see its log above); rerun the sweep with --resume to retry it"));
    }
    running.erase(it);
  }
  throw_if_interrupted();  // nothing marked failed: every stopped run resumes from its checkpoint
  return failed_now;
}

class LocalExecutor : public SweepExecutor {
 public:
  explicit LocalExecutor(const SweepOptions& o) : options_(o) {}
  bool run_grid(const std::vector<TrainJob>& jobs, const SweepSite& site, std::set<std::string>& failed) override {
    failed = run_local_jobs(jobs, options_, site.failed_before);
    return true;
  }
  int run_selected(const std::vector<TrainJob>& jobs, const SweepSite& site, std::set<std::string>& failed) override {
    for (const auto& f : run_local_jobs(jobs, options_, site.failed_before)) failed.insert(f);
    return static_cast<int>(failed.size());
  }

 private:
  SweepOptions options_;
};
}  // namespace

std::unique_ptr<SweepExecutor> make_local_executor(const SweepOptions& options) {
  return std::make_unique<LocalExecutor>(options);
}

}  // namespace osteofm
