#include "tuning/strategy.hpp"

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"

namespace osteofm {
using nlohmann::json;

namespace {
void freeze(torch::nn::Module& m) {
  for (auto& p : m.parameters()) p.set_requires_grad(false);
}
void check_fields(const json& c, const std::set<std::string>& allowed, const std::string& strategy) {
  for (auto it = c.begin(); it != c.end(); ++it)
    if (it.key() != "name" && !allowed.count(it.key()))
      throw InputError("strategy " + strategy + ": unknown field '" + it.key() + "'");
}

class LinearProbe : public TuningStrategy {
 public:
  std::string name() const override { return "linear_probe"; }
  void apply(Classifier& m) const override {
    freeze(*m->backbone);
    m->first_grad_block = m->backbone->arch.depth;  // nothing in the backbone needs autograd
  }
  bool frozen_backbone() const override { return true; }
};

class PartialFineTune : public TuningStrategy {
 public:
  explicit PartialFineTune(int blocks) : blocks_(blocks) {}
  std::string name() const override { return "partial"; }
  void apply(Classifier& m) const override {
    auto& vit = m->backbone;
    const int depth = vit->arch.depth;
    if (blocks_ < 1 || blocks_ > depth)
      throw InputError("strategy partial: blocks must be in 1.." + std::to_string(depth) + ", not " + std::to_string(blocks_));
    freeze(*vit);
    for (int i = depth - blocks_; i < depth; ++i)
      for (auto& p : vit->blocks[i]->parameters()) p.set_requires_grad(true);
    if (vit->norm)
      for (auto& p : vit->norm->parameters()) p.set_requires_grad(true);
    if (vit->proj.defined()) vit->proj.set_requires_grad(true);
    m->first_grad_block = depth - blocks_;
  }

 private:
  int blocks_;
};

class LoraTuning : public TuningStrategy {
 public:
  explicit LoraTuning(LoraOptions o) : options_(std::move(o)) {}
  std::string name() const override { return "lora"; }
  void apply(Classifier& m) const override {
    freeze(*m->backbone);
    inject_lora(m->backbone, options_);  // adapters are created trainable
    m->first_grad_block = 0;
  }
  void finalize(Classifier& m) const override { merge_lora(m->backbone); }

 private:
  LoraOptions options_;
};

using Factory = std::function<std::unique_ptr<TuningStrategy>(const json&)>;
const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> r = {
      {"linear_probe",
       [](const json& c) {
         check_fields(c, {}, "linear_probe");
         return std::unique_ptr<TuningStrategy>(new LinearProbe());
       }},
      {"partial",
       [](const json& c) {
         check_fields(c, {"blocks"}, "partial");
         if (c.contains("blocks") && !c["blocks"].is_number_integer())
           throw InputError("strategy partial: blocks must be a whole number, not " + c["blocks"].dump());
         return std::unique_ptr<TuningStrategy>(new PartialFineTune(c.value("blocks", 2)));
       }},
      {"lora",
       [](const json& c) {
         check_fields(c, {"rank", "alpha", "dropout", "targets"}, "lora");
         LoraOptions o;
         if (c.contains("rank") && !(c["rank"].is_number_integer() && c["rank"].get<int64_t>() >= 1))
           throw InputError("strategy lora: rank must be a whole number >= 1, not " + c["rank"].dump());
         o.rank = c.value("rank", o.rank);
         o.alpha = c.value("alpha", o.alpha);
         o.dropout = c.value("dropout", o.dropout);
         if (c.contains("targets")) o.targets = c["targets"].get<std::vector<std::string>>();
         return std::unique_ptr<TuningStrategy>(new LoraTuning(o));
       }},
  };
  return r;
}
}  // namespace

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
