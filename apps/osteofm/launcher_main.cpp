// osteofm: runs the verbs that need no LibTorch (eval, compare, table, report: the ones in
// torch_free_verbs.cmake) itself, in a process that never maps LibTorch, OpenCV or DCMTK,
// and becomes osteofm-torch, beside it, for every other verb. Loading those libraries costs
// ~1 s per process (about 300 shared objects), which a shell script evaluating a thousand
// subgroup files paid a thousand times (bench/bench_startup.cpp measures both).
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "cli_main.hpp"
#include "command.hpp"
#include "core/parallel.hpp"
#include "core/provenance.hpp"
#include "core/executable.hpp"

namespace {

using namespace osteofm;

bool runs_here(int argc, char** argv) {
  const std::string verb = cli::verb_of(argc, argv);
  if (verb.empty()) return false;  // --version and bare help name LibTorch's version and every verb
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--version") return false;
  CLI::App probe;
  cli::Commands commands;
  cli::add_registered_commands(probe, commands);
  for (const CLI::App* sub : probe.get_subcommands({}))
    if (sub->check_name(verb)) return true;
  return false;
}

// execv keeps the process (its pid, signals, exit code and open files), so a caller — a
// shell, Slurm, a sweep waiting on its child — sees no difference.
int become_torch_binary(char** argv) {
  const std::string self = running_executable();
  const std::string torch_binary = sibling_executable(self, kTorchExecutableName);
  // Children the verb starts (a sweep's trainers) start this launcher again, not osteofm-torch:
  // their command lines and Slurm scripts say `osteofm`.
  setenv(kLauncherEnvironment, self.c_str(), 1);
  execv(torch_binary.c_str(), argv);
  std::cerr << "osteofm: failure: cannot start " << torch_binary << " (" << std::strerror(errno)
            << "); osteofm-torch is installed beside osteofm\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (!runs_here(argc, argv)) return become_torch_binary(argv);
  cli::ProcessSetup setup;
  setup.configure_threads = set_default_threads;
  setup.record_process = [](int c, char** v) { set_command_line(c, v); };
  setup.version_line = [] { return std::string("osteofm ") + OSTEOFM_VERSION + " commit " + osteofm_commit(); };
  return cli::run_command_line(argc, argv, setup);
}
