// The training objective of each head type (models/classifier.hpp), so the loop does not
// branch on it.
#pragma once
#include <memory>
#include <string>

#include <torch/types.h>

#include "models/classifier.hpp"

namespace osteofm {

class TrainingLoss {
 public:
  virtual ~TrainingLoss() = default;
  // The batch's loss from its head outputs; `rows` are its training rows.
  virtual torch::Tensor operator()(Classifier& model, const torch::Tensor& outputs, const torch::Tensor& rows) const = 0;
};

// The head type's objective (models/heads/: cross-entropy on the class scores for softmax
// and ordinal, the T-score's Gaussian negative log-likelihood for tscore). `labels` [N]
// int64 and `t_scores` [N] float64 of the training split, on the CPU; the weights on the
// training device.
std::unique_ptr<TrainingLoss> make_training_loss(const HeadType& head, const torch::Tensor& class_weight,
                                                 double label_smoothing, const torch::Tensor& labels,
                                                 const torch::Tensor& t_scores);

}  // namespace osteofm
