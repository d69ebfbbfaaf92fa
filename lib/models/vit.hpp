// One generic pre-norm Vision Transformer for all four backbone families. Parameter
// names follow the original DINOv2 layout (cls_token, pos_embed, blocks.N.attn.qkv, ...);
// each family's adapter maps its upstream names onto them.
#pragma once
#include <torch/torch.h>

#include "models/arch.hpp"
#include "models/lora.hpp"

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
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  LoraAdapter qkv_lora{nullptr}, proj_lora{nullptr};  // set by inject_lora()
  int heads;
};
TORCH_MODULE(Attention);

struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(const ArchConfig& arch);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};  // swiglu: w12 and w3
  LoraAdapter fc1_lora{nullptr}, fc2_lora{nullptr};
  std::string act;
};
TORCH_MODULE(Mlp);

struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(const ArchConfig& arch);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
  LayerScale ls1{nullptr}, ls2{nullptr};
  torch::Tensor last_norm1;  // kept when keep_norm1 is set (Grad-CAM's target layer)
  bool keep_norm1 = false;
};
TORCH_MODULE(Block);

struct PatchEmbedImpl : torch::nn::Module {
  explicit PatchEmbedImpl(const ArchConfig& arch);
  torch::Tensor forward(const torch::Tensor& x) { return proj(x); }
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

struct VitOutput {
  torch::Tensor cls;           // [B, D] after the final norm
  torch::Tensor patch_tokens;  // [B, N, D] after the final norm, registers excluded
  torch::Tensor pooled;        // [B, P]: CLIP projection, patch mean (pool "mean"), else CLS
  torch::Tensor registers;     // [B, R, D] after the final norm (R may be 0)
  int grid_h = 0, grid_w = 0;
};

struct VisionTransformerImpl : torch::nn::Module {
  explicit VisionTransformerImpl(const ArchConfig& arch);
  VitOutput forward(const torch::Tensor& images) { return forward_from(images, 0); }  // [B, 3, H, W], normalised
  // Same, but the embedding and blocks below `first_grad_block` run without autograd:
  // a partial fine-tune computes no gradient under its first trainable block.
  VitOutput forward_from(const torch::Tensor& images, int first_grad_block);
  // Input of block 0 (after position embedding, registers and ln_pre).
  torch::Tensor embed(const torch::Tensor& images, int* grid_h, int* grid_w);
  // Position table for a grid_h x grid_w patch grid: [1, 1 + grid_h*grid_w, D].
  torch::Tensor position_embedding(int grid_h, int grid_w) const;

  ArchConfig arch;  // pos_interp resolved (never "auto")
  PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token, pos_embed, register_tokens, proj;
  torch::nn::LayerNorm ln_pre{nullptr}, norm{nullptr};
  torch::nn::ModuleList blocks;
};
TORCH_MODULE(VisionTransformer);

// Adds LoRA adapters to the targeted Linear layers of every block (base weights untouched).
// Returns the number of adapter parameters.
int64_t inject_lora(VisionTransformer& vit, const LoraOptions& options);
// Folds every adapter into its base weight and removes it: inference then costs nothing extra.
void merge_lora(VisionTransformer& vit);

}  // namespace osteofm
