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
#include "models/embed.hpp"

namespace osteofm {

struct GradCamResult {
  torch::Tensor cam;       // [B, H, W] in [0, 1]
  torch::Tensor cam_grid;  // [B, h, w] ReLU'd, before any normalisation
  torch::Tensor logits;    // [B, C]
  std::vector<int64_t> target;  // the class explained per image (kPredictedClass resolved)
};

// A token-grid map [B, h, w] as the image map [B, H, W] every CAM here becomes: per-image
// min-max on the grid, bilinear upsampling with half-pixel centres, min-max again. Reference
// maps (chance, ceiling) go through it too, so they are scored exactly like a CAM.
torch::Tensor cam_from_grid(const torch::Tensor& grid, int64_t H, int64_t W);

// A target meaning "this image's predicted class" (argmax of its logits, first on ties),
// taken from the same forward pass that the gradient uses.
constexpr int64_t kPredictedClass = -1;

// How token maps are formed from the target layer's activations A and gradients G [N, D]:
// GradCam (design.md, pytorch-grad-cam): ReLU(A · mean_tokens(G)), the gradient averaged
// over the grid as for a CNN with global average pooling; GradTimesActivation: ReLU(Σ_d
// G_jd A_jd) per token, the gradient kept per token (not averaged), so a token the CLS
// attends to is weighted by that attention. The second is an extra, clearly named option.
// The other maps (occlusion below, attention rollout in explain/rollout.hpp) use no
// gradient; every map explain offers is a SaliencyMap (explain/saliency_map.hpp).
enum class CamMethod { GradCam, GradTimesActivation };

// `images` normalised [B, 3, H, W] on the model's device; `target[b]` = class whose logit
// is explained (one backward pass for the whole batch: images do not interact). Runs in
// float32 with autograd on, whatever the caller's mode; the model should be in eval().
GradCamResult grad_cam(Classifier& model, const torch::Tensor& images, const std::vector<int64_t>& target,
                       CamMethod method = CamMethod::GradCam);

// Occlusion saliency (Zeiler & Fergus 2014) on the ViT's patch grid: each grid cell of
// the [0,1] image `gray01` [B,1,H,W] is set to `fill` in turn and the cell's score is how
// much the target class's softmax probability drops. Why: for a ViT read out through its
// CLS token, the CLS output is sum_t a_t V A_t, so the gradient at token t is a_t u and
// Grad-CAM's grid-averaged weight mean_t(a_t) u drops the attention pattern a_t: the map
// shows which tokens *contain* features along u, not which tokens the model *uses*.
// Removing a cell and watching the output measures use directly. Drops below `floor`
// (explain's default: 1e-3, a tenth of a percentage point) are set to 0: a cell without measurable
// effect highlights nothing, and the top-k IoU policy then ranks only real effects, not
// the order of float noise. Normalised and upsampled exactly as Grad-CAM (cam_grid = the
// floored drops). gh*gw extra forward passes per batch, no autograd. Known blind spot of
// any fill: a cue whose value equals the fill (a marker as dark as the mean) is not
// removed by filling it.
GradCamResult occlusion_cam(Classifier& model, const torch::Tensor& gray01, const Preprocessing& pre,
                            const std::vector<int64_t>& target, double fill, double floor);

// (x - min) / (1e-7 + max(x - min)) over the last two dimensions, per leading index.
torch::Tensor minmax_per_image(const torch::Tensor& x);

}  // namespace osteofm
