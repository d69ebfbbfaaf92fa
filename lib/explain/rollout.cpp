#include "explain/rollout.hpp"

#include <cmath>

#include <torch/torch.h>

#include "core/error.hpp"

namespace osteofm {

std::vector<torch::Tensor> block_attentions(VisionTransformer& vit, const torch::Tensor& images) {
  torch::NoGradGuard ng;
  int gh = 0, gw = 0;
  auto x = vit->embed(images.to(torch::kFloat32), &gh, &gw);
  std::vector<torch::Tensor> out;
  for (int i = 0; i < vit->arch.depth; ++i) {
    BlockImpl* block = vit->blocks[i]->as<BlockImpl>();
    const auto h = block->norm1(x);
    const auto qkv = block->attn->qkv->forward(h);  // a tuning wrapper (LoRA) included
    const int64_t B = h.size(0), T = h.size(1), D = h.size(2), heads = block->attn->heads, hd = D / heads;
    const auto parts = qkv.reshape({B, T, 3, heads, hd}).permute({2, 0, 3, 1, 4});
    const auto q = parts[0], k = parts[1];
    out.push_back(torch::matmul(q * (1.0 / std::sqrt(static_cast<double>(hd))), k.transpose(-2, -1)).softmax(-1));
    x = block->forward(x);
  }
  return out;
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
  const auto logits = model->forward(images.to(torch::kFloat32));
  std::vector<int64_t> resolved = target;
  const auto pred = logits.argmax(1).to(torch::kCPU);
  for (int64_t b = 0; b < B; ++b)
    if (resolved[b] == kPredictedClass) resolved[b] = pred[b].item<int64_t>();
  VisionTransformer& vit = model->backbone;
  const int64_t P = vit->arch.patch_size, gh = images.size(2) / P, gw = images.size(3) / P;
  const auto r = rollout_matrix(block_attentions(vit, images));
  const int64_t skip = vit->prefix_tokens();
  const auto grid = r.select(1, 0).slice(1, skip).reshape({B, gh, gw});  // CLS row over the patch grid
  return {cam_from_grid(grid, images.size(2), images.size(3)), grid, logits, resolved};
}

}  // namespace osteofm
