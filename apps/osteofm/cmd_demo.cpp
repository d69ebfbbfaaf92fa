// osteofm demo: the whole study on the built-in phantom cohort (README's first command).
#include <iostream>
#include <memory>

#include "command.hpp"
#include "core/parallel.hpp"
#include "core/error.hpp"
#include "core/executable.hpp"
#include "study/demo.hpp"

namespace osteofm::cli {

void add_demo_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<DemoOptions>();
  auto* d = root.add_subcommand("demo", "Phantom cohort -> twelve variants -> metrics with CIs -> explain -> table");
  d->add_option("--out", o->out, "Output folder (rerun to resume)")->capture_default_str();
  d->add_option("--patients", o->patients, "Phantom patients")->capture_default_str();
  d->add_option("--size", o->size, "Phantom image side, pixels")->capture_default_str();
  d->add_option("--seed", o->seed, "Phantom seed")->capture_default_str();
  d->add_option("--epochs", o->epochs, "Training epochs per variant")->capture_default_str();
  d->add_option("--bootstrap", o->bootstrap, "Bootstrap replicates of explain")->capture_default_str();
  commands.push_back({d, [o] {
    stop_safely_on_interrupt("the demo in " + o->out + " stopped; what finished is kept: run the same command again "
                             "to carry on");
    o->binary = self_executable();
    o->threads = requested_threads();
    const int failures = run_demo(*o);
    if (failures > 0) {
      std::cerr << "osteofm: failure: " << failures << " variant(s) failed; rerun 'osteofm demo --out " << o->out
                << "' to retry them\n";
      return 1;
    }
    return 0;
  }});
}

namespace {
const CommandRegistrar demo_registrar(140, add_demo_command);
}  // namespace

}  // namespace osteofm::cli
