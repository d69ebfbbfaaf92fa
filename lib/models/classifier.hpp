// Classifier = backbone + head (optional LayerNorm + Linear to the three WHO classes) on a
// configurable feature.
#pragma once
#include <string>

#include <torch/torch.h>

#include "models/vit.hpp"

namespace osteofm {

struct HeadOptions {
  std::string feature = "cls";  // cls | cls_mean (CLS concatenated with the patch mean) | pooled
  bool layernorm = false;
  int classes = 3;
};

struct ClassifierImpl : torch::nn::Module {
  ClassifierImpl(VisionTransformer backbone, const HeadOptions& options);
  torch::Tensor features(const torch::Tensor& images);  // [B, feature_dim]
  torch::Tensor head_logits(const torch::Tensor& features);
  torch::Tensor forward(const torch::Tensor& images) { return head_logits(features(images)); }
  // Logits plus the backbone's output, for a forward pass run as `options` says (the
  // strategy's first_grad_block does not apply): what explainers read, nothing mutated.
  struct Output {
    torch::Tensor logits;
    VitOutput backbone;
  };
  Output forward_with(const torch::Tensor& images, const ForwardOptions& options);
  int64_t feature_dim() const { return dim; }

  VisionTransformer backbone{nullptr};
  torch::nn::LayerNorm head_norm{nullptr};
  torch::nn::Linear head{nullptr};
  HeadOptions options;
  int64_t dim = 0;
  int first_grad_block = 0;  // set by the strategy: blocks below it run without autograd

 private:
  torch::Tensor feature_of(const VitOutput& out) const;
};
TORCH_MODULE(Classifier);

}  // namespace osteofm
