#include "command.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/ranked_registry.hpp"
#include "core/text.hpp"

namespace osteofm::cli {

CommandRegistrar::CommandRegistrar(int rank, AddCommand add) { register_ranked(rank, add); }

void add_registered_commands(CLI::App& root, Commands& commands) {
  for (const AddCommand add : ranked_entries<AddCommand>()) add(root, commands);
}

void stop_safely_on_interrupt(const std::string& resume_hint) {
  set_resume_hint(resume_hint);
  install_interrupt_handlers();
}

void refuse_control_characters(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (has_control_character(argv[i]))
      throw InputError("argument " + std::to_string(i) + " '" + visible_text(argv[i]) +
                       "' holds a control character (newline, tab, ...); osteofm takes none in paths or values");
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> gpu_list(const std::string& text) {
  // Each entry becomes a child's CUDA_VISIBLE_DEVICES: an index, or a GPU-/MIG- UUID as
  // nvidia-smi -L prints it. Anything else would start trainers on no GPU, or on the CPU.
  auto valid = [](const std::string& g) {
    const auto digits = [](const std::string& s) {
      return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (digits(g)) return g.size() <= 4;
    if (g.rfind("GPU-", 0) != 0 && g.rfind("MIG-", 0) != 0) return false;
    return g.size() > 4 && std::all_of(g.begin() + 4, g.end(), [](char c) {
             return std::isxdigit(static_cast<unsigned char>(c)) || c == '-' || c == '/';
           });
  };
  std::vector<std::string> gpus;
  std::stringstream ss(text);
  for (std::string g; std::getline(ss, g, ',');) {
    const auto first = g.find_first_not_of(" \t"), last = g.find_last_not_of(" \t");
    g = first == std::string::npos ? "" : g.substr(first, last - first + 1);
    if (g.empty()) continue;
    if (!valid(g))
      throw InputError("--gpus '" + text + "': '" + g + "' is not a GPU index (0, 1, ...) or a GPU-/MIG- UUID");
    gpus.push_back(g);
  }
  return gpus;
}

}  // namespace osteofm::cli
