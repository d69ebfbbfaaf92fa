// Classifier = backbone + head (optional LayerNorm + Linear) on a configurable feature. The
// head's type says what the Linear predicts and how that becomes the three WHO classes:
//   softmax: three logits (class scores = the logits);
//   ordinal: one score s and two ordered cut-points t1 < t2 (cumulative logit, as the classes
//            are ordered cuts of one T-score): P(class > k) = sigmoid(s - t_k+1); class
//            scores = log class probabilities;
//   tscore:  the T-score's mean and spread (Gaussian); class probabilities are the predicted
//            distribution's mass at or below -2.5, between, and at or above -1.0; class
//            scores = their logs.
// Every head's class scores go through softmax to the class probabilities, so predictions,
// eval, explain and Grad-CAM need not know the head.
#pragma once
#include <string>
#include <utility>

#include <torch/torch.h>

#include "models/head.hpp"
#include "models/vit.hpp"

namespace osteofm {

struct HeadOptions {
  std::string feature = "cls";  // cls | cls_mean (CLS concatenated with the patch mean) | pooled
  bool layernorm = false;
  int classes = 3;
  std::string type = "softmax";  // a registered head type (models/head.hpp): softmax | ordinal | tscore
};

struct ClassifierImpl : torch::nn::Module {
  ClassifierImpl(VisionTransformer backbone, const HeadOptions& options);
  torch::Tensor features(const torch::Tensor& images);  // [B, feature_dim]
  // What the head's Linear (plus the ordinal cut-points) computes: [B, 3] logits, [B, 1]
  // ordinal score, or [B, 2] T-score mean and raw spread. What losses read.
  torch::Tensor head_outputs(const torch::Tensor& features);
  // Head outputs -> class scores [B, 3] (softmax of them = class probabilities).
  torch::Tensor class_scores(const torch::Tensor& outputs) const;
  // tscore heads: the predicted T-score distribution of head outputs, mean and SD [B] each.
  std::pair<torch::Tensor, torch::Tensor> tscore_distribution(const torch::Tensor& outputs) const;
  // The ordinal head's cut-points t1 < t2 [2].
  torch::Tensor ordinal_cuts() const;
  torch::Tensor head_logits(const torch::Tensor& features) { return class_scores(head_outputs(features)); }
  torch::Tensor forward(const torch::Tensor& images) { return head_logits(features(images)); }
  // Logits plus the backbone's output, for a forward pass run as `options` says (the
  // strategy's first_grad_block does not apply): what explainers read, nothing mutated.
  struct Output {
    torch::Tensor logits;
    VitOutput backbone;
  };
  Output forward_with(const torch::Tensor& images, const ForwardOptions& options);
  int64_t feature_dim() const { return dim; }
  const HeadType& head_type() const { return *type_; }

  VisionTransformer backbone{nullptr};
  torch::nn::LayerNorm head_norm{nullptr};
  torch::nn::Linear head{nullptr};
  torch::Tensor head_cuts;  // ordinal: t1 and log(exp(t2 - t1) - 1)
  HeadOptions options;
  int64_t dim = 0;
  int first_grad_block = 0;  // set by the strategy: blocks below it run without autograd

 private:
  torch::Tensor feature_of(const VitOutput& out) const;
  const HeadType* type_ = nullptr;
};
TORCH_MODULE(Classifier);

}  // namespace osteofm
