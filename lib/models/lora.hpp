// LoRA (Hu et al. 2021, as in peft): W' = W + (alpha / r) B A on a frozen Linear, with
// A [r, in] Kaiming-uniform and B [out, r] zeros, so an adapted model equals its base at
// step 0. For a fused qkv Linear the adapters may cover only some row blocks (q and v:
// peft's target_modules = ["query", "value"] on a split-qkv model).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace osteofm {

struct LoraOptions {
  int rank = 16;
  double alpha = 16;
  double dropout = 0.1;
  // Any of: qkv (whole fused projection), qv (q and v blocks of it), proj (attention
  // output), fc1, fc2.
  std::vector<std::string> targets = {"qv"};
};

struct LoraAdapterImpl : torch::nn::Module {
  // row_blocks: (first row, rows) of the base weight that receive an adapter each.
  LoraAdapterImpl(int64_t in, int64_t out, const std::vector<std::pair<int64_t, int64_t>>& row_blocks,
                  const LoraOptions& options);
  torch::Tensor forward(const torch::Tensor& x);  // the delta, [..., out]
  torch::Tensor delta_weight() const;             // [out, in]

  int64_t in_features, out_features;
  double scaling;
  std::vector<std::pair<int64_t, int64_t>> blocks;
  std::vector<torch::Tensor> A, B;
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(LoraAdapter);

}  // namespace osteofm
