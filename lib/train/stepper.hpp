// The part of the training loop that turns backward passes into parameter updates:
// gradient accumulation (the loss scaled by 1/accum), gradient clipping, the learning-rate
// schedule and the AdamW step, counted in optimizer steps.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

#include "train/adamw.hpp"
#include "train/schedule.hpp"

namespace osteofm {

class OptimizerStepper {
 public:
  // The groups' current learning rates are the base rates the schedule scales.
  OptimizerStepper(AdamW& optimizer, int grad_accum, double clip_norm, WarmupCosine schedule, int64_t global_step = 0);
  // Backpropagates loss / grad_accum.
  void backward(const torch::Tensor& loss);
  // Call after batch `batch_index` (0-based) of an epoch of `batches`: every grad_accum-th
  // batch, and the epoch's last, clips, sets the scheduled rates, steps and clears the
  // gradients. True when it stepped.
  bool after_batch(int64_t batch_index, int64_t batches);
  int64_t global_step() const { return global_step_; }
  // Called with the new step count after every step (tests inject a crash here).
  std::function<void(int64_t)> on_step;

 private:
  AdamW& optimizer_;
  int grad_accum_;
  double clip_norm_;
  WarmupCosine schedule_;
  int64_t global_step_;
  std::vector<double> base_lr_;
};

}  // namespace osteofm
