#include "train/stepper.hpp"

#include <torch/torch.h>

namespace osteofm {

OptimizerStepper::OptimizerStepper(AdamW& optimizer, int grad_accum, double clip_norm, WarmupCosine schedule,
                                   int64_t global_step)
    : optimizer_(optimizer), grad_accum_(grad_accum), clip_norm_(clip_norm), schedule_(schedule),
      global_step_(global_step) {
  for (const auto& g : optimizer_.groups()) base_lr_.push_back(g.lr);
}

void OptimizerStepper::backward(const torch::Tensor& loss) { (loss / grad_accum_).backward(); }

bool OptimizerStepper::after_batch(int64_t batch_index, int64_t batches) {
  if ((batch_index + 1) % grad_accum_ != 0 && batch_index + 1 != batches) return false;
  if (clip_norm_ > 0) {
    std::vector<torch::Tensor> params;
    for (auto& g : optimizer_.groups())
      for (auto& [name, p] : g.params) params.push_back(p);
    torch::nn::utils::clip_grad_norm_(params, clip_norm_);
  }
  const double f = schedule_.factor(global_step_);
  for (size_t g = 0; g < base_lr_.size(); ++g) optimizer_.groups()[g].lr = base_lr_[g] * f;
  optimizer_.step();
  optimizer_.zero_grad();
  ++global_step_;
  if (on_step) on_step(global_step_);
  return true;
}

}  // namespace osteofm
