#include "models/head.hpp"

#include "core/error.hpp"
#include "core/ranked_registry.hpp"
#include "core/text.hpp"
#include "models/classifier.hpp"

namespace osteofm {

HeadRegistrar::HeadRegistrar(int rank, const HeadType* type) { register_ranked(rank, type); }

std::vector<std::string> head_type_list() {
  std::vector<std::string> names;
  for (const HeadType* t : ranked_entries<const HeadType*>()) names.push_back(t->name());
  return names;
}

const HeadType& head_type(const std::string& name) {
  for (const HeadType* t : ranked_entries<const HeadType*>())
    if (name == t->name()) return *t;
  throw InputError("head.type must be " + or_list(head_type_list()) + ", not '" + name + "'");
}

torch::Tensor HeadType::loss(const ClassifierImpl& model, const torch::Tensor& outputs, const torch::Tensor& rows,
                             const HeadLossInputs& inputs) const {
  return class_score_loss(model, outputs, rows, inputs);
}

std::pair<torch::Tensor, torch::Tensor> HeadType::tscore_distribution(const torch::Tensor&) const {
  throw RuntimeFailure(std::string("head.type ") + name() + " predicts no T-score");
}

torch::Tensor class_score_loss(const ClassifierImpl& model, const torch::Tensor& outputs, const torch::Tensor& rows,
                               const HeadLossInputs& inputs) {
  namespace F = torch::nn::functional;
  const auto y = inputs.labels.index_select(0, rows).to(outputs.device());
  return F::cross_entropy(model.class_scores(outputs.to(torch::kFloat32)), y,
                          F::CrossEntropyFuncOptions().weight(inputs.class_weight).label_smoothing(inputs.label_smoothing));
}

}  // namespace osteofm
