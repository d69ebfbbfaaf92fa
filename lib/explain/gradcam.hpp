// Grad-CAM for the generic ViT (design.md "Explainability definitions"), as
// pytorch-grad-cam computes it with vit_reshape_transform: target = the last block's
// norm1 output, patch tokens only (CLS and registers dropped), channel weights = mean
// gradient over the grid, CAM = ReLU(sum w A), per-image min-max (eps 1e-7), bilinear
// upsampling with half-pixel centres to the input size, min-max again.
#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/classifier.hpp"

namespace osteofm {

struct GradCamResult {
  torch::Tensor cam;       // [B, H, W] in [0, 1]
  torch::Tensor cam_grid;  // [B, h, w] ReLU'd, before any normalisation
  torch::Tensor logits;    // [B, C]
  std::vector<int64_t> target;  // the class explained per image (kPredictedClass resolved)
};

// A target meaning "this image's predicted class" (argmax of its logits, first on ties),
// taken from the same forward pass that the gradient uses.
constexpr int64_t kPredictedClass = -1;

// How token maps are formed from the target layer's activations A and gradients G [N, D]:
// GradCam (design.md, pytorch-grad-cam): ReLU(A · mean_tokens(G)), the gradient averaged
// over the grid as for a CNN with global average pooling; GradTimesActivation: ReLU(Σ_d
// G_jd A_jd) per token, the gradient kept per token (not averaged), so a token the CLS
// attends to is weighted by that attention. The second is an extra, clearly named option.
enum class CamMethod { GradCam, GradTimesActivation };
CamMethod parse_cam_method(const std::string& name);  // "gradcam" | "gradxact"
const char* cam_method_name(CamMethod method);

// `images` normalised [B, 3, H, W] on the model's device; `target[b]` = class whose logit
// is explained (one backward pass for the whole batch: images do not interact). Runs in
// float32 with autograd on, whatever the caller's mode; the model should be in eval().
GradCamResult grad_cam(Classifier& model, const torch::Tensor& images, const std::vector<int64_t>& target,
                       CamMethod method = CamMethod::GradCam);

// (x - min) / (1e-7 + max(x - min)) over the last two dimensions, per leading index.
torch::Tensor minmax_per_image(const torch::Tensor& x);

}  // namespace osteofm
