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
  qkv = register_module<LinearLayer>("qkv", std::make_shared<DenseLinear>(a.width, 3 * a.width, a.qkv_bias != "none"));
  proj = register_module<LinearLayer>("proj", std::make_shared<DenseLinear>(a.width, a.width, true));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), hd = D / heads;
  auto qkv_out = qkv->forward(x).reshape({B, N, 3, heads, hd}).permute({2, 0, 3, 1, 4});
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
  return proj->forward(out);
}

MlpImpl::MlpImpl(const ArchConfig& a) : act(a.act) {
  if (act == "swiglu") {
    fc1 = register_module<LinearLayer>("w12", std::make_shared<DenseLinear>(a.width, 2 * a.mlp_dim, true));
    fc2 = register_module<LinearLayer>("w3", std::make_shared<DenseLinear>(a.mlp_dim, a.width, true));
  } else {
    fc1 = register_module<LinearLayer>("fc1", std::make_shared<DenseLinear>(a.width, a.mlp_dim, true));
    fc2 = register_module<LinearLayer>("fc2", std::make_shared<DenseLinear>(a.mlp_dim, a.width, true));
  }
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto h = fc1->forward(x);
  if (act == "gelu") h = F::gelu(h);
  else if (act == "gelu_tanh") h = torch::gelu(h, "tanh");
  else if (act == "quick_gelu") h = h * torch::sigmoid(1.702 * h);
  else {
    auto parts = h.chunk(2, -1);
    h = F::silu(parts[0]) * parts[1];
  }
  return fc2->forward(h);
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

torch::Tensor BlockImpl::attention_probabilities(const torch::Tensor& x) {
  const auto h = norm1(x);
  const auto qkv = attn->qkv->forward(h);
  const int64_t B = h.size(0), T = h.size(1), D = h.size(2), heads = attn->heads, hd = D / heads;
  const auto parts = qkv.reshape({B, T, 3, heads, hd}).permute({2, 0, 3, 1, 4});
  return torch::matmul(parts[0] * (1.0 / std::sqrt(static_cast<double>(hd))), parts[1].transpose(-2, -1)).softmax(-1);
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, torch::Tensor* norm1_out) {
  auto h = norm1(x);
  if (norm1_out) {
    // Grad-CAM differentiates the score with respect to this tensor; with a frozen block
    // nothing upstream requires grad, so it becomes a leaf of its own.
    if (!h.requires_grad()) h = h.detach().requires_grad_(true);
    *norm1_out = h;
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
  const int cls = arch.class_token ? 1 : 0;
  if (arch.class_token) cls_token = register_parameter("cls_token", torch::zeros({1, 1, arch.width}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, cls + g * g, arch.width}));
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
  const int cls = arch.class_token ? 1 : 0;
  auto cls_pos = pos_embed.slice(1, 0, cls);
  auto grid = pos_embed.slice(1, cls).reshape({1, g, g, D}).permute({0, 3, 1, 2}).to(torch::kFloat32);
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
  const int cls = arch.class_token ? 1 : 0;
  if (arch.class_token) x = torch::cat({cls_token.expand({B, -1, -1}), x}, 1);
  x = x + position_embedding(*gh, *gw);
  if (arch.registers > 0)  // registers get no position embedding: [cls, reg..., patches]
    x = torch::cat({x.slice(1, 0, cls), register_tokens.expand({B, -1, -1}), x.slice(1, cls)}, 1);
  if (arch.ln_pre) x = ln_pre(x);
  return x;
}

VitOutput VisionTransformerImpl::forward(const torch::Tensor& images, const ForwardOptions& options) {
  VitOutput out;
  torch::Tensor x;
  const int k = std::clamp(options.first_grad_block, 0, arch.depth);
  auto run_block = [&](int i) {
    BlockImpl* block = blocks[i]->as<Block>();
    if (options.attention) out.attentions.push_back(block->attention_probabilities(x));
    x = block->forward(x, i == options.norm1_of_block ? &out.norm1 : nullptr);
  };
  {
    // Only when asked: under plain inference the caller's own guard applies.
    std::unique_ptr<torch::NoGradGuard> no_grad;
    if (k > 0) no_grad = std::make_unique<torch::NoGradGuard>();
    x = embed(images, &out.grid_h, &out.grid_w);
    for (int i = 0; i < k; ++i) run_block(i);
  }
  for (int i = k; i < arch.depth; ++i) run_block(i);
  if (arch.final_norm) x = norm(x);
  const int cls = arch.class_token ? 1 : 0, R = arch.registers;
  if (arch.class_token) out.cls = x.select(1, 0);
  out.registers = x.slice(1, cls, cls + R);
  out.patch_tokens = x.slice(1, cls + R);
  out.pooled = arch.pool == "mean" ? out.patch_tokens.mean(1) : out.cls;
  if (arch.proj_dim > 0) out.pooled = torch::matmul(arch.class_token ? out.cls : out.pooled, proj);
  return out;
}

void LinearSite::replace(std::shared_ptr<LinearLayer> with) const {
  owner_->replace_module(name_, with);
  *slot_ = std::move(with);
}

std::vector<LinearSite> VisionTransformerImpl::linear_sites() {
  std::vector<LinearSite> sites;
  const bool swiglu = arch.act == "swiglu";
  for (int i = 0; i < arch.depth; ++i) {
    auto* block = blocks[i]->as<Block>();
    auto* attn = block->attn.get();
    auto* mlp = block->mlp.get();
    sites.push_back({i, "qkv", attn, "qkv", &attn->qkv});
    sites.push_back({i, "proj", attn, "proj", &attn->proj});
    sites.push_back({i, "fc1", mlp, swiglu ? "w12" : "fc1", &mlp->fc1});
    sites.push_back({i, "fc2", mlp, swiglu ? "w3" : "fc2", &mlp->fc2});
  }
  return sites;
}

}  // namespace osteofm
