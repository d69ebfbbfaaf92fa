#include "models/classifier.hpp"

#include <cmath>

#include "core/error.hpp"

namespace osteofm {

ClassifierImpl::ClassifierImpl(VisionTransformer vit, const HeadOptions& o) : options(o) {
  backbone = register_module("backbone", vit);
  const int64_t D = vit->arch.width;
  if (o.feature == "cls") dim = D;
  else if (o.feature == "cls_mean") dim = 2 * D;
  else if (o.feature == "pooled") dim = vit->arch.proj_dim > 0 ? vit->arch.proj_dim : D;
  else throw InputError("head.feature must be cls, cls_mean or pooled, not '" + o.feature + "'");
  if (o.feature != "pooled" && !vit->arch.class_token)
    throw InputError("head.feature '" + o.feature + "' needs a class token and this backbone has none: use pooled");
  if (o.classes < 2) throw InputError("head.classes must be at least 2");
  if (o.layernorm) head_norm = register_module("head_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  type_ = &osteofm::head_type(o.type);
  head = register_module("head", torch::nn::Linear(dim, type_->outputs(o.classes)));
  type_->add_parameters(*this);
}

torch::Tensor ClassifierImpl::ordinal_cuts() const {
  const auto t1 = head_cuts.slice(0, 0, 1);
  return torch::cat({t1, t1 + torch::nn::functional::softplus(head_cuts.slice(0, 1, 2))});
}

std::pair<torch::Tensor, torch::Tensor> ClassifierImpl::tscore_distribution(const torch::Tensor& out) const {
  return type_->tscore_distribution(out);
}

torch::Tensor ClassifierImpl::class_scores(const torch::Tensor& out) const { return type_->class_scores(*this, out); }

torch::Tensor ClassifierImpl::feature_of(const VitOutput& out) const {
  if (options.feature == "cls") return out.cls;
  if (options.feature == "pooled") return out.pooled;
  return torch::cat({out.cls, out.patch_tokens.mean(1)}, -1);
}

torch::Tensor ClassifierImpl::features(const torch::Tensor& images) {
  ForwardOptions run;
  run.first_grad_block = first_grad_block;
  return feature_of(backbone->forward(images, run));
}

ClassifierImpl::Output ClassifierImpl::forward_with(const torch::Tensor& images, const ForwardOptions& options) {
  Output out;
  out.backbone = backbone->forward(images, options);
  out.logits = head_logits(feature_of(out.backbone));
  return out;
}

torch::Tensor ClassifierImpl::head_outputs(const torch::Tensor& f) { return head(head_norm ? head_norm(f) : f); }

}  // namespace osteofm
