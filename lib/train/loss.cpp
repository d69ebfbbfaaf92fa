#include "train/loss.hpp"

#include <torch/torch.h>

namespace osteofm {

namespace {
// The head type's own objective (models/heads/), with the training split's labels, T-scores
// and class weights.
class HeadLoss : public TrainingLoss {
 public:
  HeadLoss(const HeadType& head, HeadLossInputs inputs) : head_(head), inputs_(std::move(inputs)) {}
  torch::Tensor operator()(Classifier& model, const torch::Tensor& outputs, const torch::Tensor& rows) const override {
    return head_.loss(*model, outputs, rows, inputs_);
  }

 private:
  const HeadType& head_;
  HeadLossInputs inputs_;
};
}  // namespace

std::unique_ptr<TrainingLoss> make_training_loss(const HeadType& head, const torch::Tensor& class_weight,
                                                 double label_smoothing, const torch::Tensor& labels,
                                                 const torch::Tensor& t_scores) {
  return std::make_unique<HeadLoss>(head, HeadLossInputs{class_weight, label_smoothing, labels, t_scores.to(torch::kFloat32)});
}

}  // namespace osteofm
