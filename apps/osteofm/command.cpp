#include "command.hpp"

#include "core/ranked_registry.hpp"

namespace osteofm::cli {

CommandRegistrar::CommandRegistrar(int rank, AddCommand add) { register_ranked(rank, add); }

void add_registered_commands(CLI::App& root, Commands& commands) {
  for (const AddCommand add : ranked_entries<AddCommand>()) add(root, commands);
}

}  // namespace osteofm::cli
