// osteofm train: one variant, one run folder; --resume continues a stopped run.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "train/config.hpp"
#include "train/trainer.hpp"

namespace osteofm::cli {

namespace {
// The kill-and-resume tests stop a run right after an optimizer step, as a kill or a Ctrl-C.
TrainHooks test_hooks() {
  TrainHooks hooks;
  if (const char* step = std::getenv("OSTEOFM_TEST_KILL_AFTER_STEPS"))
    hooks.callbacks.push_back(signal_after_steps(std::atoll(step), SIGKILL));
  else if (const char* step_int = std::getenv("OSTEOFM_TEST_INTERRUPT_AFTER_STEPS"))
    hooks.callbacks.push_back(signal_after_steps(std::atoll(step_int), SIGINT));
  return hooks;
}
}  // namespace

void add_train_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string config, out;
    std::vector<std::string> set;
    bool resume = false;
  };
  auto o = std::make_shared<Options>();
  auto* t = root.add_subcommand("train", "Train one backbone + strategy variant into a run folder");
  t->add_option("--config", o->config, "Run config JSON")->required();
  t->add_option("--set", o->set, "Override a config key: KEY.PATH=VALUE (repeatable)");
  t->add_option("--out", o->out, "Run folder")->required();
  t->add_flag("--resume", o->resume, "Continue the run in --out from its last checkpoint");
  commands.push_back({t, [o] {
    stop_safely_on_interrupt("training in " + o->out + " stopped at a batch boundary; its last checkpoint is kept: resume "
                             "with 'osteofm train --config " + o->config + " --out " + o->out + " --resume'");
    const auto config = resolve_train_config(o->config, o->set);
    const TrainSummary s = train_run(typed_run_config(config, o->config), o->out, o->resume, test_hooks());
    std::cout << o->out << ": " << s.epochs_run << " epochs" << (s.resumed ? " (resumed)" : "") << ", best " << (s.selection_metric == "val_auc_macro" ? "val macro AUC " : "val accuracy (no macro AUC: a class is missing) ")
              << s.best_val_auc << " at epoch " << s.best_epoch << ", " << s.trainable_parameters
              << " trainable parameters\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar train_registrar(90, add_train_command);
}  // namespace

}  // namespace osteofm::cli
