// How subcommands plug into the one osteofm binary: each cmd_*.cpp adds its CLI11
// subcommand(s) and a function to run when that subcommand was given.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace osteofm::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;  // returns the exit code; throws InputError/RuntimeFailure
};
using Commands = std::vector<Command>;

void add_doctor_command(CLI::App& root, Commands& commands);
void add_data_command(CLI::App& root, Commands& commands);
void add_weights_command(CLI::App& root, Commands& commands);
void add_eval_command(CLI::App& root, Commands& commands);
void add_compare_command(CLI::App& root, Commands& commands);
void add_table_command(CLI::App& root, Commands& commands);
void add_embed_command(CLI::App& root, Commands& commands);
void add_synth_command(CLI::App& root, Commands& commands);
void add_train_command(CLI::App& root, Commands& commands);
void add_sweep_command(CLI::App& root, Commands& commands);
void add_gradcam_command(CLI::App& root, Commands& commands);
void add_explain_command(CLI::App& root, Commands& commands);
void add_predict_command(CLI::App& root, Commands& commands);
void add_demo_command(CLI::App& root, Commands& commands);

}  // namespace osteofm::cli
