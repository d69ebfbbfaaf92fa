// head.type softmax: one logit per class, cross-entropy.
#include "core/error.hpp"
#include "models/classifier.hpp"
#include "models/head.hpp"

namespace osteofm {
namespace {

class SoftmaxHead : public HeadType {
 public:
  const char* name() const override { return "softmax"; }
  int64_t outputs(int classes) const override { return classes; }
  torch::Tensor class_scores(const ClassifierImpl&, const torch::Tensor& outputs) const override { return outputs; }
  torch::Tensor loss(const ClassifierImpl& model, const torch::Tensor& outputs, const torch::Tensor& rows,
                     const HeadLossInputs& inputs) const override {
    return class_score_loss(model, outputs, rows, inputs);
  }
};

const SoftmaxHead softmax_head;
const HeadRegistrar softmax_registrar(10, &softmax_head);

}  // namespace
}  // namespace osteofm
