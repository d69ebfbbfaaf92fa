#include "tuning/strategy.hpp"

#include <map>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace osteofm {
using nlohmann::json;

namespace {
// Filled by the registrars during static initialisation (a function-local static exists
// before the first of them runs). Sorted by name, as strategy_names() lists them.
std::map<std::string, StrategyFactory>& registry() {
  static std::map<std::string, StrategyFactory> r;
  return r;
}
}  // namespace

StrategyRegistrar::StrategyRegistrar(const char* name, StrategyFactory make) { registry()[name] = make; }

void check_strategy_fields(const json& c, const std::set<std::string>& allowed, const std::string& strategy) {
  for (auto it = c.begin(); it != c.end(); ++it)
    if (it.key() != "name" && !allowed.count(it.key()))
      throw InputError("strategy " + strategy + ": unknown field '" + it.key() + "'");
}

void freeze_parameters(torch::nn::Module& m) {
  for (auto& p : m.parameters()) p.set_requires_grad(false);
}

std::vector<std::string> strategy_names() {
  std::vector<std::string> n;
  for (const auto& [k, f] : registry()) n.push_back(k);
  return n;
}

std::unique_ptr<TuningStrategy> make_strategy(const json& c) {
  if (!c.is_object() || !c.contains("name") || !c["name"].is_string())
    throw InputError("strategy: an object with a \"name\" is required");
  const std::string name = c["name"];
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : strategy_names()) known += (known.empty() ? "" : ", ") + n;
    throw InputError("strategy: unknown name '" + name + "' (known: " + known + ")");
  }
  try {
    return it->second(c);
  } catch (const json::exception& e) {
    throw InputError("strategy " + name + ": a field has the wrong type");
  }
}

int64_t trainable_parameter_count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters())
    if (p.requires_grad()) n += p.numel();
  return n;
}

std::vector<torch::Tensor> trainable_body_parameters(Classifier& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m->backbone->parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

}  // namespace osteofm
