#include "command.hpp"

#include <algorithm>
#include <utility>

namespace osteofm::cli {

namespace {
// A function-local static: it exists before the first registrar runs, whatever the order
// in which the cmd_*.cpp files are initialised.
std::vector<std::pair<int, AddCommand>>& registered() {
  static std::vector<std::pair<int, AddCommand>> commands;
  return commands;
}
}  // namespace

CommandRegistrar::CommandRegistrar(int rank, AddCommand add) { registered().emplace_back(rank, add); }

void add_registered_commands(CLI::App& root, Commands& commands) {
  auto sorted = registered();
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [rank, add] : sorted) add(root, commands);
}

}  // namespace osteofm::cli
