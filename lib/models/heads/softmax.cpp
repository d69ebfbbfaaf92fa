// head.type softmax: one logit per class, cross-entropy (HeadType::loss).
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
};

const SoftmaxHead softmax_head;
const HeadRegistrar softmax_registrar(10, &softmax_head);

}  // namespace
}  // namespace osteofm
