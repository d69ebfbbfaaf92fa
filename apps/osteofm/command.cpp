#include "command.hpp"

#include <sstream>

#include "core/ranked_registry.hpp"

namespace osteofm::cli {

CommandRegistrar::CommandRegistrar(int rank, AddCommand add) { register_ranked(rank, add); }

void add_registered_commands(CLI::App& root, Commands& commands) {
  for (const AddCommand add : ranked_entries<AddCommand>()) add(root, commands);
}

std::vector<std::string> gpu_list(const std::string& text) {
  std::vector<std::string> gpus;
  std::stringstream ss(text);
  for (std::string g; std::getline(ss, g, ',');)
    if (!g.empty()) gpus.push_back(g);
  return gpus;
}

}  // namespace osteofm::cli
