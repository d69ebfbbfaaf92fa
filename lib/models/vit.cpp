#include "models/vit.hpp"
#include "core/resample.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace osteofm {
namespace F = torch::nn::functional;

LayerScaleImpl::LayerScaleImpl(int dim) { gamma = register_parameter("gamma", torch::ones({dim})); }

AttentionImpl::AttentionImpl(const ArchConfig& a) : heads(a.heads) {
  // qkv_bias "qv" (BLIP-2/EVA) is stored as one [3D] bias whose k third is zero; a
  // constant key bias cancels in the softmax, so a full bias is exact for both.
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(a.width, 3 * a.width).bias(a.qkv_bias != "none")));
  proj = register_module("proj", torch::nn::Linear(a.width, a.width));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), hd = D / heads;
  auto qkv_y = qkv(x);
  if (qkv_lora) qkv_y = qkv_y + qkv_lora(x);
  auto qkv_out = qkv_y.reshape({B, N, 3, heads, hd}).permute({2, 0, 3, 1, 4});
  auto q = qkv_out[0], k = qkv_out[1], v = qkv_out[2];
  torch::Tensor out;
#if TORCH_VERSION_MAJOR >= 2
  // Fused kernel (flash / memory-efficient on CUDA); same scale hd^-0.5.
  out = at::scaled_dot_product_attention(q, k, v);
#else
  auto attn = torch::matmul(q * (1.0 / std::sqrt(static_cast<double>(hd))), k.transpose(-2, -1)).softmax(-1);
  out = torch::matmul(attn, v);
#endif
  out = out.transpose(1, 2).reshape({B, N, D});
  return proj_lora ? proj(out) + proj_lora(out) : proj(out);
}

MlpImpl::MlpImpl(const ArchConfig& a) : act(a.act) {
  if (act == "swiglu") {
    fc1 = register_module("w12", torch::nn::Linear(a.width, 2 * a.mlp_dim));
    fc2 = register_module("w3", torch::nn::Linear(a.mlp_dim, a.width));
  } else {
    fc1 = register_module("fc1", torch::nn::Linear(a.width, a.mlp_dim));
    fc2 = register_module("fc2", torch::nn::Linear(a.mlp_dim, a.width));
  }
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto h = fc1_lora ? fc1(x) + fc1_lora(x) : fc1(x);
  if (act == "gelu") h = F::gelu(h);
  else if (act == "gelu_tanh") h = torch::gelu(h, "tanh");
  else if (act == "quick_gelu") h = h * torch::sigmoid(1.702 * h);
  else {
    auto parts = h.chunk(2, -1);
    h = F::silu(parts[0]) * parts[1];
  }
  return fc2_lora ? fc2(h) + fc2_lora(h) : fc2(h);
}

BlockImpl::BlockImpl(const ArchConfig& a) {
  auto ln = torch::nn::LayerNormOptions({a.width}).eps(a.norm_eps);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  attn = register_module("attn", Attention(a));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", Mlp(a));
  if (a.layerscale) {
    ls1 = register_module("ls1", LayerScale(a.width));
    ls2 = register_module("ls2", LayerScale(a.width));
  }
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  auto h = norm1(x);
  if (keep_norm1) {
    // Grad-CAM differentiates the score with respect to this tensor; with a frozen block
    // nothing upstream requires grad, so it becomes a leaf of its own.
    if (!h.requires_grad()) h = h.detach().requires_grad_(true);
    last_norm1 = h;
  }
  auto a = attn(h);
  auto y = x + (ls1 ? ls1(a) : a);
  auto m = mlp(norm2(y));
  return y + (ls2 ? ls2(m) : m);
}

PatchEmbedImpl::PatchEmbedImpl(const ArchConfig& a) {
  proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, a.width, a.patch_size)
                                                       .stride(a.patch_size)
                                                       .bias(a.patch_bias)));
}

VisionTransformerImpl::VisionTransformerImpl(const ArchConfig& a) : arch(a) {
  validate_arch(arch, "arch");
  if (arch.pos_interp == "auto") arch.pos_interp = arch.registers > 0 ? "bicubic_aa" : "bicubic";
  const int g = arch.grid();
  patch_embed = register_module("patch_embed", PatchEmbed(arch));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, arch.width}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, 1 + g * g, arch.width}));
  if (arch.registers > 0) register_tokens = register_parameter("register_tokens", torch::zeros({1, arch.registers, arch.width}));
  auto ln = torch::nn::LayerNormOptions({arch.width}).eps(arch.norm_eps);
  if (arch.ln_pre) ln_pre = register_module("ln_pre", torch::nn::LayerNorm(ln));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < arch.depth; ++i) blocks->push_back(Block(arch));
  if (arch.final_norm) norm = register_module("norm", torch::nn::LayerNorm(ln));
  if (arch.proj_dim > 0) proj = register_parameter("proj", torch::zeros({arch.width, arch.proj_dim}));
}

torch::Tensor VisionTransformerImpl::position_embedding(int gh, int gw) const {
  const int g = arch.grid();
  if (gh == g && gw == g) return pos_embed;
  const int64_t D = pos_embed.size(2);
  auto cls_pos = pos_embed.slice(1, 0, 1);
  auto grid = pos_embed.slice(1, 1).reshape({1, g, g, D}).permute({0, 3, 1, 2}).to(torch::kFloat32);
  torch::Tensor out;
  if (arch.pos_interp == "offset") {
    // Original DINOv2 without registers: the scale factor (g' + 0.1) / g drives the
    // source-coordinate mapping, not the output size (F.interpolate(scale_factor=...)).
    out = at::upsample_bicubic2d(grid, {gh, gw}, /*align_corners=*/false, (gh + 0.1) / g, (gw + 0.1) / g);
  } else if (arch.pos_interp == "bicubic_aa") {
    out = resize_bicubic_aa(grid, gh, gw);
  } else {
    out = at::upsample_bicubic2d(grid, {gh, gw}, /*align_corners=*/false);
  }
  out = out.to(pos_embed.scalar_type()).permute({0, 2, 3, 1}).reshape({1, gh * gw, D});
  return torch::cat({cls_pos, out}, 1);
}

torch::Tensor VisionTransformerImpl::embed(const torch::Tensor& images, int* gh, int* gw) {
  if (images.dim() != 4 || images.size(1) != 3)
    throw InputError("backbone input must be [B, 3, H, W], got " + c10::str(images.sizes()));
  const int p = arch.patch_size;
  if (images.size(2) % p != 0 || images.size(3) % p != 0)
    throw InputError("input size " + std::to_string(images.size(2)) + "x" + std::to_string(images.size(3)) +
                     " is not a multiple of the patch size " + std::to_string(p));
  *gh = static_cast<int>(images.size(2) / p);
  *gw = static_cast<int>(images.size(3) / p);
  auto x = patch_embed(images).flatten(2).transpose(1, 2);  // [B, N, D]
  const int64_t B = x.size(0);
  x = torch::cat({cls_token.expand({B, -1, -1}), x}, 1) + position_embedding(*gh, *gw);
  if (arch.registers > 0)  // registers get no position embedding: [cls, reg..., patches]
    x = torch::cat({x.slice(1, 0, 1), register_tokens.expand({B, -1, -1}), x.slice(1, 1)}, 1);
  if (arch.ln_pre) x = ln_pre(x);
  return x;
}

VitOutput VisionTransformerImpl::forward_from(const torch::Tensor& images, int first_grad_block) {
  VitOutput out;
  torch::Tensor x;
  const int k = std::clamp(first_grad_block, 0, arch.depth);
  {
    // Only when asked: under plain inference the caller's own guard applies.
    std::unique_ptr<torch::NoGradGuard> no_grad;
    if (k > 0) no_grad = std::make_unique<torch::NoGradGuard>();
    x = embed(images, &out.grid_h, &out.grid_w);
    for (int i = 0; i < k; ++i) x = blocks[i]->as<Block>()->forward(x);
  }
  for (int i = k; i < arch.depth; ++i) x = blocks[i]->as<Block>()->forward(x);
  if (arch.final_norm) x = norm(x);
  const int R = arch.registers;
  out.cls = x.select(1, 0);
  out.registers = x.slice(1, 1, 1 + R);
  out.patch_tokens = x.slice(1, 1 + R);
  if (arch.proj_dim > 0) out.pooled = torch::matmul(out.cls, proj);
  else if (arch.pool == "mean") out.pooled = out.patch_tokens.mean(1);
  else out.pooled = out.cls;
  return out;
}

}  // namespace osteofm

namespace osteofm {

int64_t inject_lora(VisionTransformer& vit, const LoraOptions& o) {
  if (o.rank < 1) throw InputError("lora: rank must be at least 1");
  const int64_t D = vit->arch.width;
  // A rank above the width adds parameters without adding rank (and can cost gigabytes).
  if (o.rank > D)
    throw InputError("lora: rank " + std::to_string(o.rank) + " exceeds the model width " + std::to_string(D));
  if (o.targets.empty()) throw InputError("lora: targets is empty (give some of qkv, qv, proj, fc1, fc2)");
  if (!(o.alpha > 0)) throw InputError("lora: alpha must be greater than 0");
  if (!(o.dropout >= 0 && o.dropout < 1)) throw InputError("lora: dropout must be in [0, 1)");
  int64_t count = 0;
  auto add = [&](torch::nn::Module& owner, LoraAdapter& slot, const std::string& name, const torch::nn::Linear& base,
                 std::vector<std::pair<int64_t, int64_t>> rows) {
    if (slot) throw InputError("lora: target '" + name + "' given twice");
    const int64_t in = base->weight.size(1), out = base->weight.size(0);
    if (rows.empty()) rows = {{0, out}};
    slot = owner.register_module(name + "_lora", LoraAdapter(in, out, rows, o));
    slot->to(base->weight.device(), base->weight.scalar_type());
    for (const auto& p : slot->parameters()) count += p.numel();
  };
  for (auto& m : *vit->blocks) {
    auto* blk = m->as<Block>();
    for (const auto& t : o.targets) {
      if (t == "qkv") add(*blk->attn, blk->attn->qkv_lora, "qkv", blk->attn->qkv, {});
      else if (t == "qv") add(*blk->attn, blk->attn->qkv_lora, "qkv", blk->attn->qkv, {{0, D}, {2 * D, D}});
      else if (t == "proj") add(*blk->attn, blk->attn->proj_lora, "proj", blk->attn->proj, {});
      else if (t == "fc1") add(*blk->mlp, blk->mlp->fc1_lora, "fc1", blk->mlp->fc1, {});
      else if (t == "fc2") add(*blk->mlp, blk->mlp->fc2_lora, "fc2", blk->mlp->fc2, {});
      else throw InputError("lora: unknown target '" + t + "' (qkv, qv, proj, fc1, fc2)");
    }
  }
  return count;
}

void merge_lora(VisionTransformer& vit) {
  torch::NoGradGuard ng;
  auto fold = [](torch::nn::Module& owner, LoraAdapter& slot, const std::string& name, torch::nn::Linear& base) {
    if (!slot) return;
    base->weight.add_(slot->delta_weight().to(base->weight.scalar_type()));
    owner.unregister_module(name + "_lora");
    slot = nullptr;
  };
  for (auto& m : *vit->blocks) {
    auto* blk = m->as<Block>();
    fold(*blk->attn, blk->attn->qkv_lora, "qkv", blk->attn->qkv);
    fold(*blk->attn, blk->attn->proj_lora, "proj", blk->attn->proj);
    fold(*blk->mlp, blk->mlp->fc1_lora, "fc1", blk->mlp->fc1);
    fold(*blk->mlp, blk->mlp->fc2_lora, "fc2", blk->mlp->fc2);
  }
}

}  // namespace osteofm
