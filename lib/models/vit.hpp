// One generic pre-norm Vision Transformer for all four backbone families. Parameter
// names follow the original DINOv2 layout (cls_token, pos_embed, blocks.N.attn.qkv, ...);
// each family's adapter maps its upstream names onto them. The ViT does not know how it is
// tuned: strategies swap its Linear layers (linear_sites) and choose where autograd starts
// (ForwardOptions); explainers read its activations from the forward pass's output.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/arch.hpp"
#include "models/linear_layer.hpp"

namespace osteofm {

struct LayerScaleImpl : torch::nn::Module {
  explicit LayerScaleImpl(int dim);
  torch::Tensor forward(const torch::Tensor& x) { return x * gamma; }
  torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

struct AttentionImpl : torch::nn::Module {
  explicit AttentionImpl(const ArchConfig& arch);
  torch::Tensor forward(const torch::Tensor& x);
  std::shared_ptr<LinearLayer> qkv, proj;
  int heads;
};
TORCH_MODULE(Attention);

struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(const ArchConfig& arch);
  torch::Tensor forward(const torch::Tensor& x);
  std::shared_ptr<LinearLayer> fc1, fc2;  // swiglu: registered as w12 and w3
  std::string act;
};
TORCH_MODULE(Mlp);

struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(const ArchConfig& arch);
  // `norm1_out`, when given, receives norm1's output (the attention's input) as a tensor
  // that requires grad even in a frozen block: Grad-CAM's target layer.
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor* norm1_out = nullptr);
  // softmax(q k^T / sqrt(d)) [B, heads, T, T] of this block for input `x`, recomputed from
  // its own norm1 and qkv (a tuning wrapper such as LoRA included), so it does not depend on
  // a fused attention kernel, which never forms the matrix.
  torch::Tensor attention_probabilities(const torch::Tensor& x);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
  LayerScale ls1{nullptr}, ls2{nullptr};
};
TORCH_MODULE(Block);

struct PatchEmbedImpl : torch::nn::Module {
  explicit PatchEmbedImpl(const ArchConfig& arch);
  torch::Tensor forward(const torch::Tensor& x) { return proj(x); }
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

// How one forward pass runs, and which activations it returns besides its output.
struct ForwardOptions {
  // The embedding and the blocks below this one run without autograd (a partial fine-tune
  // computes no gradient under its first trainable block; 0: everything with autograd).
  int first_grad_block = 0;
  // Return this block's norm1 output in VitOutput::norm1 (-1: none).
  int norm1_of_block = -1;
  // Return every block's attention probabilities in VitOutput::attentions (attention
  // rollout), in the same pass.
  bool attention = false;
};

struct VitOutput {
  torch::Tensor cls;           // [B, D] after the final norm; undefined without a class token
  torch::Tensor patch_tokens;  // [B, N, D] after the final norm, registers excluded
  torch::Tensor pooled;        // [B, P]: CLIP projection, patch mean (pool "mean"), else CLS
  torch::Tensor registers;     // [B, R, D] after the final norm (R may be 0)
  torch::Tensor norm1;         // [B, T, D] all tokens, when ForwardOptions::norm1_of_block asked
  std::vector<torch::Tensor> attentions;  // per block [B, heads, T, T], when ForwardOptions::attention asked
  int grid_h = 0, grid_w = 0;
};

// One Linear layer of a block, as a tuning strategy sees it: what it is, and how to swap it.
struct LinearSite {
  int block = 0;
  std::string role;  // qkv | proj | fc1 | fc2
  std::shared_ptr<LinearLayer> layer() const { return *slot_; }
  // Puts `with` where the layer was (same registered name, so parameter paths become
  // blocks.N.attn.qkv.<with's own names>).
  void replace(std::shared_ptr<LinearLayer> with) const;

  torch::nn::Module* owner_ = nullptr;
  std::string name_;
  std::shared_ptr<LinearLayer>* slot_ = nullptr;
};

struct VisionTransformerImpl : torch::nn::Module {
  explicit VisionTransformerImpl(const ArchConfig& arch);
  // images: [B, 3, H, W], normalised.
  VitOutput forward(const torch::Tensor& images, const ForwardOptions& options = {});
  // Input of block 0 (after position embedding, registers and ln_pre).
  torch::Tensor embed(const torch::Tensor& images, int* grid_h, int* grid_w);
  // Position table for a grid_h x grid_w patch grid: [1, prefix + grid_h*grid_w, D].
  torch::Tensor position_embedding(int grid_h, int grid_w) const;
  // Tokens before the patch grid: the class token (if any), then the registers.
  int prefix_tokens() const { return (arch.class_token ? 1 : 0) + arch.registers; }
  // Every block's Linear layers, block by block in the order qkv, proj, fc1, fc2.
  std::vector<LinearSite> linear_sites();

  ArchConfig arch;  // pos_interp resolved (never "auto")
  PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token, pos_embed, register_tokens, proj;
  torch::nn::LayerNorm ln_pre{nullptr}, norm{nullptr};
  torch::nn::ModuleList blocks;
};
TORCH_MODULE(VisionTransformer);

}  // namespace osteofm
