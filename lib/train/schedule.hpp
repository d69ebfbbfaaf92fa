// How many optimizer steps a run takes, and the learning-rate factor of each: linear
// warmup, then a half cosine to zero (per optimizer step, not per batch).
#pragma once
#include <cstdint>

namespace osteofm {

struct StepPlan {
  int64_t batches_per_epoch = 0;  // ceil(train rows / batch)
  int64_t steps_per_epoch = 0;    // ceil(batches / accumulation): a last partial group still steps
  int64_t total_steps = 0;
  int64_t warmup_steps = 0;       // round(warmup_epochs * steps_per_epoch)
};
StepPlan plan_steps(int64_t train_rows, int batch, int grad_accum, int epochs, double warmup_epochs);

class WarmupCosine {
 public:
  WarmupCosine(int64_t warmup_steps, int64_t total_steps) : warmup_(warmup_steps), total_(total_steps) {}
  // Factor of the base learning rate at optimizer step `step` (0-based): (step+1)/warmup
  // during warmup, then 0.5 (1 + cos(pi (step - warmup) / max(1, total - warmup))).
  double factor(int64_t step) const;

 private:
  int64_t warmup_, total_;
};

}  // namespace osteofm
