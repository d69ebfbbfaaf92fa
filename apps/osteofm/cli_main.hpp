// The one command-line driver both executables run: parse the global options and the verb,
// run it, map errors to exit codes (0 ok, 1 runtime failure, 2 usage or input error,
// 128+signal when interrupted). What differs between them — LibTorch's thread pools and
// process facts, or none — comes in as a ProcessSetup.
#pragma once
#include <functional>
#include <string>

namespace osteofm::cli {

struct ProcessSetup {
  std::function<void(int threads)> configure_threads;
  std::function<void(int argc, char** argv)> record_process;
  std::function<std::string()> version_line;
};

int run_command_line(int argc, char** argv, const ProcessSetup& setup);

// The verb named on a command line ("eval" in `osteofm --threads 2 eval --predictions p.csv`),
// empty when there is none (`osteofm --version`). Global options that take a value are
// skipped with it.
std::string verb_of(int argc, char** argv);

}  // namespace osteofm::cli
