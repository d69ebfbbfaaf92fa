#include "explain/saliency_map.hpp"

#include "core/error.hpp"
#include "core/ranked_registry.hpp"
#include "core/text.hpp"

namespace osteofm {

SaliencyMapRegistrar::SaliencyMapRegistrar(int rank, SaliencyMapType type) { register_ranked(rank, type); }

std::vector<std::string> saliency_map_names() {
  std::vector<std::string> names;
  for (const SaliencyMapType& t : ranked_entries<SaliencyMapType>()) names.push_back(t.name);
  return names;
}

namespace {
const SaliencyMapType* find_map(const std::string& name) {
  for (const auto& [rank, type] : ranked_registry<SaliencyMapType>())
    if (name == type.name) return &type;
  return nullptr;
}
}  // namespace

void check_saliency_map(const std::string& name) {
  if (!find_map(name)) throw InputError("--cam must be " + or_list(saliency_map_names()) + ", not '" + name + "'");
}

std::unique_ptr<SaliencyMap> make_saliency_map(const std::string& name, const MapSettings& settings) {
  check_saliency_map(name);
  return find_map(name)->make(settings);
}

}  // namespace osteofm
