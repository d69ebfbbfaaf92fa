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
  if (!is_head_type(o.type))
    throw InputError("head.type must be " + std::string(kHeadTypes) + ", not '" + o.type + "'");
  if (o.type != "softmax" && o.classes != 3)
    throw InputError("head.type " + o.type + " is made for the three ordered WHO classes");
  const int64_t outputs = o.type == "softmax" ? o.classes : o.type == "ordinal" ? 1 : 2;
  head = register_module("head", torch::nn::Linear(dim, outputs));
  if (o.type == "ordinal")  // t1 = -0.5, t2 = t1 + softplus(0.5413) = 0.5
    head_cuts = register_parameter("head_cuts", torch::tensor({-0.5f, 0.5413f}));
}

torch::Tensor ClassifierImpl::ordinal_cuts() const {
  const auto t1 = head_cuts.slice(0, 0, 1);
  return torch::cat({t1, t1 + torch::nn::functional::softplus(head_cuts.slice(0, 1, 2))});
}

std::pair<torch::Tensor, torch::Tensor> ClassifierImpl::tscore_distribution(const torch::Tensor& out) const {
  // A floor under the spread keeps the likelihood finite on a perfectly fitted batch.
  return {out.select(1, 0), torch::nn::functional::softplus(out.select(1, 1)) + 0.01};
}

torch::Tensor ClassifierImpl::class_scores(const torch::Tensor& out) const {
  if (options.type == "softmax") return out;
  if (options.type == "ordinal") {
    // log p0 = log sigmoid(t1 - s); log p2 = log sigmoid(s - t2);
    // log p1 = log(sigmoid(s - t1) - sigmoid(s - t2))
    //        = log sigmoid(s - t1) + log sigmoid(t2 - s) + log(1 - exp(-(t2 - t1))), stable.
    namespace F = torch::nn::functional;
    const auto s = out.select(1, 0), cuts = ordinal_cuts().to(out.dtype());
    const auto t1 = cuts[0], t2 = cuts[1];
    const auto gap = torch::log(-torch::expm1(-(t2 - t1)));
    return torch::stack({F::logsigmoid(t1 - s), F::logsigmoid(s - t1) + F::logsigmoid(t2 - s) + gap,
                         F::logsigmoid(s - t2)},
                        1);
  }
  // tscore: the Gaussian's mass in each WHO interval.
  const auto [mean, sd] = tscore_distribution(out);
  auto cdf = [&](double cut) { return 0.5 * torch::erfc(-(cut - mean) / (sd * std::sqrt(2.0))); };
  const auto below_osteoporosis = cdf(-2.5), below_normal = cdf(-1.0);
  const auto p = torch::stack({1 - below_normal, below_normal - below_osteoporosis, below_osteoporosis}, 1).clamp_min(1e-12);
  return torch::log(p / p.sum(1, true));
}

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
