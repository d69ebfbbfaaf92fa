#include "explain/gradcam.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace osteofm {

torch::Tensor minmax_per_image(const torch::Tensor& x) {
  const auto flat = x.flatten(-2);
  const auto lo = std::get<0>(flat.min(-1, true)).unsqueeze(-1);
  const auto shifted = x - lo;
  const auto hi = std::get<0>(shifted.flatten(-2).max(-1, true)).unsqueeze(-1);
  return shifted / (hi + 1e-7);
}

CamMethod parse_cam_method(const std::string& name) {
  if (name == "gradcam") return CamMethod::GradCam;
  if (name == "gradxact") return CamMethod::GradTimesActivation;
  throw InputError("--cam must be gradcam or gradxact, not '" + name + "'");
}

const char* cam_method_name(CamMethod m) { return m == CamMethod::GradCam ? "gradcam" : "gradxact"; }

GradCamResult grad_cam(Classifier& model, const torch::Tensor& images, const std::vector<int64_t>& target,
                       CamMethod method) {
  const int64_t B = images.size(0);
  if (static_cast<int64_t>(target.size()) != B)
    throw RuntimeFailure("grad_cam: " + std::to_string(target.size()) + " targets for " + std::to_string(B) + " images");
  VisionTransformer& vit = model->backbone;
  const ArchConfig& a = vit->arch;
  const int gh = static_cast<int>(images.size(2)) / a.patch_size, gw = static_cast<int>(images.size(3)) / a.patch_size;
  BlockImpl* last = vit->blocks[a.depth - 1]->as<BlockImpl>();
  const int saved_first = model->first_grad_block;
  // Only the last block needs a graph: everything below it runs without autograd.
  model->first_grad_block = a.depth - 1;
  last->keep_norm1 = true;
  torch::Tensor logits, acts, grads;
  std::vector<int64_t> resolved = target;
  try {
    torch::AutoGradMode grad_on(true);
    logits = model->forward(images.to(torch::kFloat32));
    if (std::count(resolved.begin(), resolved.end(), kPredictedClass) > 0) {
      const auto pred = logits.detach().argmax(1).to(torch::kCPU);
      for (int64_t b = 0; b < B; ++b)
        if (resolved[b] == kPredictedClass) resolved[b] = pred[b].item<int64_t>();
    }
    for (int64_t t : resolved)
      if (t < 0 || t >= logits.size(1))
        throw InputError("grad_cam: class " + std::to_string(t) + " outside 0.." + std::to_string(logits.size(1) - 1));
    const auto idx = torch::tensor(resolved, torch::kInt64).to(logits.device()).view({B, 1});
    const auto score = logits.gather(1, idx).sum();
    acts = last->last_norm1;
    grads = torch::autograd::grad({score}, {acts})[0];
  } catch (...) {
    last->keep_norm1 = false;
    last->last_norm1 = torch::Tensor();
    model->first_grad_block = saved_first;
    throw;
  }
  last->keep_norm1 = false;
  last->last_norm1 = torch::Tensor();
  model->first_grad_block = saved_first;

  const int64_t skip = 1 + a.registers;  // CLS, then registers, then the patch grid
  const auto A = acts.detach().slice(1, skip);   // [B, N, D]
  const auto G = grads.detach().slice(1, skip);  // [B, N, D]
  if (A.size(1) != static_cast<int64_t>(gh) * gw)
    throw RuntimeFailure("grad_cam: " + std::to_string(A.size(1)) + " patch tokens for a " + std::to_string(gh) + "x" +
                         std::to_string(gw) + " grid");
  const auto w = method == CamMethod::GradCam ? G.mean(1, true) : G;        // [B, 1, D] or [B, N, D]
  const auto cam_grid = torch::relu((A * w).sum(-1)).view({B, gh, gw});  // [B, h, w]
  namespace F = torch::nn::functional;
  auto up = F::interpolate(minmax_per_image(cam_grid).unsqueeze(1),
                           F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{images.size(2), images.size(3)})
                               .mode(torch::kBilinear)
                               .align_corners(false))
                .squeeze(1);
  return {minmax_per_image(up), cam_grid, logits.detach(), resolved};
}

}  // namespace osteofm
