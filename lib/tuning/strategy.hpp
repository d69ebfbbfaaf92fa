// Tuning strategies: each decides what trains. The trainer asks a strategy to prepare the
// model and whether features can be cached; it never branches on strategy names. Each
// strategy is one file in tuning/strategies/ that registers itself by name.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include "models/classifier.hpp"

namespace osteofm {

class TuningStrategy {
 public:
  virtual ~TuningStrategy() = default;
  virtual std::string name() const = 0;
  // Sets requires_grad, injects adapters, moves the first block that computes gradients.
  virtual void apply(Classifier& model) const = 0;
  // The backbone is frozen entirely: its features can be computed once and cached.
  virtual bool frozen_backbone() const { return false; }
  // Prepares the model for inference after training (LoRA merges its adapters).
  virtual void finalize(Classifier&) const {}
};

// {"name": "linear_probe"} | {"name": "partial", "blocks": 2} |
// {"name": "lora", "rank": 16, "alpha": 16, "dropout": 0.1, "targets": ["qv"]}
// Unknown names or fields are InputErrors naming the field.
std::unique_ptr<TuningStrategy> make_strategy(const nlohmann::json& config);
std::vector<std::string> strategy_names();  // sorted

// A strategy file registers itself with one object at namespace scope:
//   const StrategyRegistrar my_strategy_registrar("my_strategy", [](const nlohmann::json& c) { ... });
// The factory reads the strategy's config object (check_strategy_fields first); the build
// compiles every file of tuning/strategies/ straight into each executable.
using StrategyFactory = std::unique_ptr<TuningStrategy> (*)(const nlohmann::json& config);
struct StrategyRegistrar {
  StrategyRegistrar(const char* name, StrategyFactory make);
};

// Helpers for strategy files.
// InputError naming the first field of `config` other than "name" not in `allowed`.
void check_strategy_fields(const nlohmann::json& config, const std::set<std::string>& allowed,
                           const std::string& strategy);
// requires_grad off for every parameter of `module`.
void freeze_parameters(torch::nn::Module& module);

int64_t trainable_parameter_count(torch::nn::Module& model);
// Trainable parameters of the body (backbone, adapters), for its own learning rate.
std::vector<torch::Tensor> trainable_body_parameters(Classifier& model);

}  // namespace osteofm
