#include "train/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace osteofm {

StepPlan plan_steps(int64_t train_rows, int batch, int grad_accum, int epochs, double warmup_epochs) {
  StepPlan p;
  p.batches_per_epoch = (train_rows + batch - 1) / batch;
  p.steps_per_epoch = (p.batches_per_epoch + grad_accum - 1) / grad_accum;
  p.total_steps = p.steps_per_epoch * epochs;
  p.warmup_steps = static_cast<int64_t>(std::lround(warmup_epochs * p.steps_per_epoch));
  return p;
}

double WarmupCosine::factor(int64_t step) const {
  constexpr double kPi = 3.14159265358979323846;
  if (step < warmup_) return double(step + 1) / warmup_;
  return 0.5 * (1 + std::cos(kPi * double(step - warmup_) / std::max<int64_t>(1, total_ - warmup_)));
}

}  // namespace osteofm
