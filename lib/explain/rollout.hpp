// Attention rollout (Abnar & Zuidema 2020) as a map: per block the attention probabilities
// averaged over heads, mixed with the residual as 0.5·A + 0.5·I, rows renormalised, the
// product over blocks (the last on the left); the CLS row over the patch tokens (CLS and
// registers dropped) is the token map, brought to the image as every CAM is. Class-agnostic:
// it says where the CLS token gathers information from, not for which class.
#pragma once
#include <vector>

#include <torch/types.h>

#include "explain/gradcam.hpp"

namespace osteofm {

// Attention probabilities [B, heads, T, T] of every block, computed from the model's own
// modules (norm1, qkv and any LoRA on it) while the blocks run one by one; the model is not
// changed and the result does not depend on a fused attention kernel.
std::vector<torch::Tensor> block_attentions(VisionTransformer& vit, const torch::Tensor& images);

// The rollout matrix [B, T, T] of per-block attentions [B, heads, T, T].
torch::Tensor rollout_matrix(const std::vector<torch::Tensor>& attentions);

// The rollout map of normalised images [B, 3, H, W]; logits and the resolved targets (for
// the report) from the same model, without autograd.
GradCamResult attention_rollout(Classifier& model, const torch::Tensor& images, const std::vector<int64_t>& target);

}  // namespace osteofm
