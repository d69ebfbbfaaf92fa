// How subcommands plug into the one osteofm binary: each cmd_*.cpp adds its CLI11
// subcommand(s) and a function to run when that subcommand was given, and registers itself.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace osteofm::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;  // returns the exit code; throws InputError/RuntimeFailure
};
using Commands = std::vector<Command>;

// Each cmd_*.cpp registers its verb with one object at namespace scope:
//   const CommandRegistrar my_registrar(RANK, add_my_command);
// `rank` orders the verbs in --help. The build globs cmd_*.cpp, so a new verb is one file.
using AddCommand = void (*)(CLI::App& root, Commands& commands);
struct CommandRegistrar {
  CommandRegistrar(int rank, AddCommand add);
};
// Adds every registered verb to `root`, in rank order.
void add_registered_commands(CLI::App& root, Commands& commands);

// "a,b,,c" as {"a", "b", "", "c"}: every item kept, empty ones too (the verb says why an
// empty name or view is wrong).
std::vector<std::string> split_commas(const std::string& text);

// For verbs that work for minutes: Ctrl-C and SIGTERM stop at the next safe point, and main
// ends with "interrupted by ...: <resume_hint>" (core/interrupt.hpp).
void stop_safely_on_interrupt(const std::string& resume_hint);

// InputError naming the first argument that holds a control character (a newline in --out
// reached Slurm scripts as a second command; no path or value needs one).
void refuse_control_characters(int argc, char** argv);

// A --gpus value, "0,1,2,3", as its device names (empty items skipped).
std::vector<std::string> gpu_list(const std::string& text);

}  // namespace osteofm::cli
