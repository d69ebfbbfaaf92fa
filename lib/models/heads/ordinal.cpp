// head.type ordinal: one score s and two cut-points t1 < t2 on the ordered WHO classes
// (cumulative logits): P(normal) = 1 - sigmoid(s - t1), P(osteoporosis) = sigmoid(s - t2).
// Its class scores are the class log probabilities, so cross-entropy on them is their
// negative log-likelihood.
#include <string>

#include "core/error.hpp"
#include "models/classifier.hpp"
#include "models/head.hpp"

namespace osteofm {
namespace {

class OrdinalHead : public HeadType {
 public:
  const char* name() const override { return "ordinal"; }
  int64_t outputs(int classes) const override {
    if (classes != 3) throw InputError("head.type ordinal is made for the three ordered WHO classes");
    return 1;
  }
  void add_parameters(ClassifierImpl& model) const override {
    // t1 = -0.5, t2 = t1 + softplus(0.5413) = 0.5
    model.head_cuts = model.register_parameter("head_cuts", torch::tensor({-0.5f, 0.5413f}));
  }
  torch::Tensor class_scores(const ClassifierImpl& model, const torch::Tensor& out) const override {
    // log p0 = log sigmoid(t1 - s); log p2 = log sigmoid(s - t2);
    // log p1 = log(sigmoid(s - t1) - sigmoid(s - t2))
    //        = log sigmoid(s - t1) + log sigmoid(t2 - s) + log(1 - exp(-(t2 - t1))), stable.
    namespace F = torch::nn::functional;
    const auto s = out.select(1, 0), cuts = model.ordinal_cuts().to(out.dtype());
    const auto t1 = cuts[0], t2 = cuts[1];
    const auto gap = torch::log(-torch::expm1(-(t2 - t1)));
    return torch::stack({F::logsigmoid(t1 - s), F::logsigmoid(s - t1) + F::logsigmoid(t2 - s) + gap,
                         F::logsigmoid(s - t2)},
                        1);
  }
};

const OrdinalHead ordinal_head;
const HeadRegistrar ordinal_registrar(20, &ordinal_head);

}  // namespace
}  // namespace osteofm
