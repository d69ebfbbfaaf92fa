// osteofm config: every key of a run config with its type, default, allowed values and doc
// (train/config_keys.hpp); --markdown prints README's configuration reference.
#include <iostream>

#include "command.hpp"
#include "train/config_keys.hpp"

namespace osteofm::cli {

void add_config_command(CLI::App& root, Commands& commands) {
  auto* sub = root.add_subcommand("config", "List every run config key: type, default, allowed values, what it does");
  static bool markdown = false;
  sub->add_flag("--markdown", markdown, "A Markdown table (README's configuration reference)");
  commands.push_back({sub, [] {
    std::cout << config_reference(markdown);
    return 0;
  }});
}

namespace {
const CommandRegistrar config_registrar(85, add_config_command);
}  // namespace

}  // namespace osteofm::cli
