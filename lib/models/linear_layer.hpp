// The ViT's Linear layers behind one interface, so that a tuning strategy can wrap or
// replace any of them (as peft does: LoRA, DoRA, bottleneck adapters) without the ViT
// knowing how it is tuned. The ViT builds DenseLinear layers; VisionTransformerImpl::
// linear_sites() lists where they sit and swaps them.
#pragma once
#include <memory>

#include <torch/torch.h>

namespace osteofm {

struct LinearLayer : torch::nn::Module {
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
};

// y = x W^T + b, with torch.nn.Linear's parameter names ("weight" [out, in], "bias" [out])
// and its initialisation (the same random draws, so seeded runs stay as they were).
struct DenseLinear : LinearLayer {
  DenseLinear(int64_t in, int64_t out, bool bias);
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::Tensor weight, bias;  // bias undefined when built without one
};

}  // namespace osteofm
