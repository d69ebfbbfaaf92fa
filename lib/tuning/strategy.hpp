// Tuning strategies: each decides what trains. The trainer asks a strategy to prepare the
// model and whether features can be cached; it never branches on strategy names.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

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
std::vector<std::string> strategy_names();

int64_t trainable_parameter_count(torch::nn::Module& model);
// Trainable parameters of the body (backbone, adapters), for its own learning rate.
std::vector<torch::Tensor> trainable_body_parameters(Classifier& model);

}  // namespace osteofm
