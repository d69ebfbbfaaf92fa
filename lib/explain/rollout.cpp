#include "explain/rollout.hpp"

#include <cmath>

#include <torch/torch.h>

#include "core/error.hpp"

namespace osteofm {

std::vector<torch::Tensor> block_attentions(VisionTransformer& vit, const torch::Tensor& images) {
  torch::NoGradGuard ng;
  ForwardOptions options;
  options.attention = true;
  return vit->forward(images.to(torch::kFloat32), options).attentions;
}

torch::Tensor rollout_matrix(const std::vector<torch::Tensor>& attentions) {
  if (attentions.empty()) throw RuntimeFailure("rollout_matrix: no attention maps");
  torch::Tensor rollout;
  for (const auto& a : attentions) {
    const int64_t T = a.size(-1);
    auto layer = 0.5 * a.mean(1) + 0.5 * torch::eye(T, a.options()).unsqueeze(0);  // [B, T, T]
    layer = layer / layer.sum(-1, true);
    rollout = rollout.defined() ? torch::matmul(layer, rollout) : layer;
  }
  return rollout;
}

GradCamResult attention_rollout(Classifier& model, const torch::Tensor& images, const std::vector<int64_t>& target) {
  const int64_t B = images.size(0);
  if (static_cast<int64_t>(target.size()) != B)
    throw RuntimeFailure("attention_rollout: " + std::to_string(target.size()) + " targets for " + std::to_string(B) + " images");
  if (!model->backbone->arch.class_token)
    throw InputError("attention rollout reads the class token's row, and this backbone has no class token: use --cam gradcam");
  torch::NoGradGuard ng;
  // One pass: the logits and every block's attention (was: a forward for the logits, then
  // a second one for the attention; 2.0x Grad-CAM's time on dinov2-vitb14 at 224 px).
  ForwardOptions options;
  options.attention = true;
  const ClassifierImpl::Output pass = model->forward_with(images.to(torch::kFloat32), options);
  const auto& logits = pass.logits;
  std::vector<int64_t> resolved = target;
  const auto pred = logits.argmax(1).to(torch::kCPU);
  for (int64_t b = 0; b < B; ++b)
    if (resolved[b] == kPredictedClass) resolved[b] = pred[b].item<int64_t>();
  VisionTransformer& vit = model->backbone;
  const int64_t P = vit->arch.patch_size, gh = images.size(2) / P, gw = images.size(3) / P;
  const auto r = rollout_matrix(pass.backbone.attentions);
  const int64_t skip = vit->prefix_tokens();
  const auto grid = r.select(1, 0).slice(1, skip).reshape({B, gh, gw});  // CLS row over the patch grid
  return {cam_from_grid(grid, images.size(2), images.size(3)), grid, logits, resolved};
}

}  // namespace osteofm
