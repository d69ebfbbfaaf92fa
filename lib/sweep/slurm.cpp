// Slurm: the batch scripts, sbatch (run without a shell) and the Slurm executor, which
// submits a sweep's trainings as job arrays.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#include <cerrno>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/layout.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "sweep/executor.hpp"

namespace osteofm {
namespace fs = std::filesystem;

std::string shell_quote(const std::string& s) {
  // A newline survives quoting but ends a #SBATCH line and shows as two lines in logs:
  // main refuses such arguments first, this is for paths that reach a script another way.
  if (has_control_character(s))
    throw InputError("'" + visible_text(s) + "': a path with a control character cannot go into a batch script");
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

std::string batch_script_header(const std::string& job_name, const std::string& log, const std::string& directives) {
  for (const std::string* field : {&job_name, &log})
    if (has_control_character(*field))
      throw InputError("'" + visible_text(*field) + "': a path with a control character cannot go into a batch script");
  return "#!/bin/bash\n#SBATCH --job-name=" + job_name + "\n#SBATCH --output=" + log + "\n" + directives +
         "set -euo pipefail\n";
}

std::vector<std::string> slurm_pass_on(const SweepOptions& o) {
  std::vector<std::string> words = {"--executor", "slurm"};
  if (o.force) words.push_back("--force");
  if (!o.sbatch_args.empty()) words.insert(words.end(), {"--sbatch-args", o.sbatch_args});
  return words;
}

namespace {
struct CommandOutput {
  int status = -1;  // exit code, or -1 when it did not exit normally
  std::string out;  // its standard output
};

// Runs argv[0] (looked up in PATH) with `argv`, no shell; its stdout captured, stderr
// passed through.
CommandOutput run_capturing_stdout(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe(fds) != 0) throw RuntimeFailure("cannot run " + args[0] + ": no pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  CommandOutput result;
  if (spawned != 0) {
    ::close(fds[0]);
    return result;  // not found or not runnable: status -1, no output
  }
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    result.out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}
}  // namespace

std::vector<std::string> sbatch_command(const SweepOptions& o, const std::string& script) {
  std::vector<std::string> argv = {"sbatch", "--parsable"};
  if (o.wait) argv.push_back("--wait");
  wordexp_t words{};
  // WRDE_NOCMD: a $(...) or `...` is refused, never run.
  const int rc = ::wordexp(o.sbatch_args.c_str(), &words, WRDE_NOCMD);
  if (rc != 0) {
    if (rc == WRDE_NOSPACE) ::wordfree(&words);
    const char* why = rc == WRDE_CMDSUB    ? "a command substitution is not allowed"
                      : rc == WRDE_BADCHAR ? "an unquoted ; | & < > ( ) { } or newline is not allowed"
                      : rc == WRDE_SYNTAX  ? "unbalanced quotes"
                                           : "cannot be split into words";
    throw InputError("--sbatch-args '" + o.sbatch_args + "': " + why + " (the words are passed to sbatch, no shell)");
  }
  for (size_t i = 0; i < words.we_wordc; ++i) argv.push_back(words.we_wordv[i]);
  ::wordfree(&words);
  argv.push_back(script);
  return argv;
}

namespace {
SlurmSubmission submit(const std::vector<std::string>& argv) {
  const CommandOutput sbatch = run_capturing_stdout(argv);
  SlurmSubmission s;
  s.id = sbatch.out;
  s.status = sbatch.status;
  while (!s.id.empty() && (s.id.back() == '\n' || s.id.back() == '\r')) s.id.pop_back();
  const auto semicolon = s.id.find(';');  // --parsable: "id[;cluster]"
  if (semicolon != std::string::npos) s.id.resize(semicolon);
  if (s.status != 0 && s.id.empty()) throw RuntimeFailure("sbatch failed (is Slurm installed and running?)");
  return s;
}

// One job array, a task per job: `osteofm train` on its config and run folder (resumed
// when the folder holds a checkpoint). The script is written to `script`, then submitted.
SlurmSubmission submit_array(const std::vector<TrainJob>& jobs, const fs::path& script, const std::string& name,
                             const SweepOptions& o) {
  const fs::path root = fs::absolute(script.parent_path());
  std::string text = batch_script_header(name, (root / (name + "_%A_%a.log")).string(),
                                         "#SBATCH --array=0-" + std::to_string(jobs.size() - 1) + "\n") +
                     "configs=(";
  for (const auto& job : jobs) text += " " + shell_quote(fs::absolute(job.config).string());
  text += " )\nruns=(";
  for (const auto& job : jobs) text += " " + shell_quote(fs::absolute(job.run).string());
  text += " )\nrun=${runs[$SLURM_ARRAY_TASK_ID]}\n";
  text += "resume=''\n[[ -f \"$run/" + std::string(layout::kCheckpoints) + "/" + layout::kLastCheckpoint +
          "\" ]] && resume=--resume\n";
  text += child_command(o, {"train"}).script_line(" --config \"${configs[$SLURM_ARRAY_TASK_ID]}\" --out \"$run\" $resume") + "\n";
  fs::create_directories(root);
  write_file_atomic(script.string(), text);
  return submit(sbatch_command(o, fs::absolute(script).string()));
}
}  // namespace

SlurmSubmission submit_batch(const SweepOptions& o, const std::string& script, const std::string& after) {
  std::vector<std::string> argv = sbatch_command(o, script);
  if (!after.empty()) argv.insert(argv.begin() + 2, "--dependency=afterok:" + after);
  return submit(argv);
}

namespace {
class SlurmExecutor : public SweepExecutor {
 public:
  explicit SlurmExecutor(const SweepOptions& o) : options_(o) {
    sbatch_command(o, "array.sh");  // bad --sbatch-args refused before anything is written
  }

  bool run_grid(const std::vector<TrainJob>& jobs, const SweepSite& site, std::set<std::string>& failed) override {
    const SweepOptions& o = options_;
    std::vector<TrainJob> pending;
    for (const auto& job : jobs)
      if (!run_finished(job.run)) pending.push_back(job);
    if (pending.empty()) return true;
    const SlurmSubmission grid = submit_array(pending, site.root / "slurm" / "grid.sh", "osteofm-grid", o);
    print_result(log_text("submitted grid job array ", grid.id, " (", pending.size(), " tasks)\n"));
    if (!o.wait) {
      // The selection sits between the arrays: a job that waits for the grid reruns this
      // sweep, which then finds the grid finished, selects, and submits the seed runs.
      std::vector<std::string> args = {"sweep", "--config", fs::absolute(site.file).string(), "--out",
                                       fs::absolute(site.root).string()};
      for (const auto& w : slurm_pass_on(o)) args.push_back(w);
      if (!o.then_script.empty()) args.insert(args.end(), {"--then", fs::absolute(o.then_script).string()});
      const std::string script =
          batch_script_header("osteofm-select", (fs::absolute(site.root) / "slurm" / "select_%j.log").string()) +
          child_command(o, args).script_line() + "\n";
      const fs::path select = site.root / "slurm" / "select.sh";
      write_file_atomic(select.string(), script);
      SweepOptions once = o;
      once.wait = false;
      const SlurmSubmission follow = submit_batch(once, fs::absolute(select).string(), grid.id);
      print_result(log_text("submitted job ", follow.id,
                            " (after the grid: selection on validation, then the seed runs); logs in ",
                            (site.root / "slurm").string(), "; collect with: osteofm table ", site.sweep_dir, "\n"));
      return false;
    }
    if (grid.status != 0) {
      log_warning("sweep", log_text("the grid job array ", grid.id, " failed (logs in ", (site.root / "slurm").string(), ")"));
      for (const auto& job : pending)
        if (!run_finished(job.run)) failed.insert(job.name);
    }
    return true;
  }

  int run_selected(const std::vector<TrainJob>& jobs, const SweepSite& site, std::set<std::string>& failed) override {
    const SweepOptions& o = options_;
    if (jobs.empty()) throw RuntimeFailure(site.sweep_dir + ": no variant has a selection to run (see above)");
    // Finished runs are not submitted again: a task would reload its data and predict
    // val and test once more for nothing.
    std::vector<TrainJob> pending;
    for (const auto& job : jobs)
      if (!run_finished(job.run)) pending.push_back(job);
    SlurmSubmission runs;
    if (pending.empty()) {
      print_result(log_text("sweep: every run has finished; nothing submitted\n"));
    } else {
      runs = submit_array(pending, site.root / "slurm" / "array.sh", "osteofm-sweep", o);
      print_result(log_text("submitted job array ", runs.id, " (", pending.size(), " tasks); logs in ",
                            (site.root / "slurm").string(), "; collect with: osteofm table ", site.sweep_dir, "\n"));
    }
    if (!o.then_script.empty() && !o.wait) {
      const SlurmSubmission then = submit_batch(o, fs::absolute(o.then_script).string(), runs.id);
      print_result(
          log_text("submitted job ", then.id, " (", o.then_script, (runs.id.empty() ? ")\n" : ", after the array)\n")));
    }
    return (o.wait && (runs.status != 0 || !failed.empty())) ? 1 : 0;
  }

 private:
  SweepOptions options_;
};
}  // namespace

std::unique_ptr<SweepExecutor> make_slurm_executor(const SweepOptions& options) {
  return std::make_unique<SlurmExecutor>(options);
}

}  // namespace osteofm
