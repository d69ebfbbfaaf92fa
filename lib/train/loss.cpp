#include "train/loss.hpp"

#include <torch/torch.h>

namespace osteofm {

namespace {
class ClassLoss : public TrainingLoss {
 public:
  ClassLoss(torch::Tensor weight, double smoothing, torch::Tensor labels)
      : weight_(std::move(weight)), smoothing_(smoothing), labels_(std::move(labels)) {}
  torch::Tensor operator()(Classifier& model, const torch::Tensor& outputs, const torch::Tensor& rows) const override {
    namespace F = torch::nn::functional;
    const auto y = labels_.index_select(0, rows).to(outputs.device());
    return F::cross_entropy(model->class_scores(outputs.to(torch::kFloat32)), y,
                            F::CrossEntropyFuncOptions().weight(weight_).label_smoothing(smoothing_));
  }

 private:
  torch::Tensor weight_;
  double smoothing_;
  torch::Tensor labels_;
};

class TscoreLoss : public TrainingLoss {
 public:
  TscoreLoss(torch::Tensor weight, torch::Tensor labels, torch::Tensor t_scores)
      : weight_(std::move(weight)), labels_(std::move(labels)), t_scores_(t_scores.to(torch::kFloat32)) {}
  torch::Tensor operator()(Classifier& model, const torch::Tensor& outputs, const torch::Tensor& rows) const override {
    const auto [mean, sd] = model->tscore_distribution(outputs.to(torch::kFloat32));
    const auto t = t_scores_.index_select(0, rows).to(outputs.device());
    const auto w = weight_.index_select(0, labels_.index_select(0, rows).to(outputs.device()));
    const auto nll = torch::log(sd) + 0.5 * ((t - mean) / sd).pow(2);
    return (w * nll).sum() / w.sum();  // as cross_entropy's weighted mean
  }

 private:
  torch::Tensor weight_, labels_, t_scores_;
};
}  // namespace

std::unique_ptr<TrainingLoss> make_training_loss(const std::string& head_type, const torch::Tensor& class_weight,
                                                 double label_smoothing, const torch::Tensor& labels,
                                                 const torch::Tensor& t_scores) {
  if (head_type == "tscore") return std::make_unique<TscoreLoss>(class_weight, labels, t_scores);
  return std::make_unique<ClassLoss>(class_weight, label_smoothing, labels);
}

}  // namespace osteofm
