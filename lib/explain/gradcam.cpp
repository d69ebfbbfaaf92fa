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

// The reference's tail: per-image min-max on the grid, bilinear upsampling with
// half-pixel centres to H x W, min-max again.
torch::Tensor cam_from_grid(const torch::Tensor& cam_grid, int64_t H, int64_t W) {
  namespace F = torch::nn::functional;
  auto up = F::interpolate(minmax_per_image(cam_grid).unsqueeze(1),
                           F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{H, W})
                               .mode(torch::kBilinear)
                               .align_corners(false))
                .squeeze(1);
  return minmax_per_image(up);
}

namespace {

std::vector<int64_t> resolve_targets(std::vector<int64_t> target, const torch::Tensor& logits) {
  if (std::count(target.begin(), target.end(), kPredictedClass) > 0) {
    const auto pred = logits.detach().argmax(1).to(torch::kCPU);
    for (size_t b = 0; b < target.size(); ++b)
      if (target[b] == kPredictedClass) target[b] = pred[static_cast<int64_t>(b)].item<int64_t>();
  }
  for (int64_t t : target)
    if (t < 0 || t >= logits.size(1))
      throw InputError("CAM target class " + std::to_string(t) + " outside 0.." + std::to_string(logits.size(1) - 1));
  return target;
}
}  // namespace

GradCamResult grad_cam(Classifier& model, const torch::Tensor& images, const std::vector<int64_t>& target,
                       CamMethod method) {
  const int64_t B = images.size(0);
  if (static_cast<int64_t>(target.size()) != B)
    throw RuntimeFailure("grad_cam: " + std::to_string(target.size()) + " targets for " + std::to_string(B) + " images");
  VisionTransformer& vit = model->backbone;
  const ArchConfig& a = vit->arch;
  const int gh = static_cast<int>(images.size(2)) / a.patch_size, gw = static_cast<int>(images.size(3)) / a.patch_size;
  // Only the last block needs a graph: everything below it runs without autograd. The
  // activations come back with the output; the model is not touched.
  ForwardOptions run;
  run.first_grad_block = a.depth - 1;
  run.norm1_of_block = a.depth - 1;
  torch::AutoGradMode grad_on(true);
  const auto out = model->forward_with(images.to(torch::kFloat32), run);
  const torch::Tensor& logits = out.logits;
  const std::vector<int64_t> resolved = resolve_targets(target, logits);
  const auto idx = torch::tensor(resolved, torch::kInt64).to(logits.device()).view({B, 1});
  const auto score = logits.gather(1, idx).sum();
  const torch::Tensor acts = out.backbone.norm1;
  const torch::Tensor grads = torch::autograd::grad({score}, {acts})[0];

  const int64_t skip = vit->prefix_tokens();  // CLS, then registers, then the patch grid
  const auto A = acts.detach().slice(1, skip);   // [B, N, D]
  const auto G = grads.detach().slice(1, skip);  // [B, N, D]
  if (A.size(1) != static_cast<int64_t>(gh) * gw)
    throw RuntimeFailure("grad_cam: " + std::to_string(A.size(1)) + " patch tokens for a " + std::to_string(gh) + "x" +
                         std::to_string(gw) + " grid");
  const auto w = method == CamMethod::GradCam ? G.mean(1, true) : G;        // [B, 1, D] or [B, N, D]
  const auto cam_grid = torch::relu((A * w).sum(-1)).view({B, gh, gw});  // [B, h, w]
  return {cam_from_grid(cam_grid, images.size(2), images.size(3)), cam_grid, logits.detach(), resolved};
}

GradCamResult occlusion_cam(Classifier& model, const torch::Tensor& gray01, const Preprocessing& pre,
                            const std::vector<int64_t>& target, double fill, double floor) {
  const int64_t B = gray01.size(0), H = gray01.size(2), W = gray01.size(3);
  if (static_cast<int64_t>(target.size()) != B)
    throw RuntimeFailure("occlusion_cam: " + std::to_string(target.size()) + " targets for " + std::to_string(B) + " images");
  const int64_t P = model->backbone->arch.patch_size, gh = H / P, gw = W / P;
  torch::NoGradGuard ng;
  const auto logits = model->forward(normalize_batch(gray01, pre).to(torch::kFloat32));
  const std::vector<int64_t> resolved = resolve_targets(target, logits);
  const auto idx = torch::tensor(resolved, torch::kInt64).to(logits.device()).view({B, 1});
  const auto base = torch::softmax(logits, 1).gather(1, idx);  // [B, 1]
  // Several cells per forward pass (about 64 images a pass), each a copy of the batch.
  const int64_t cells = gh * gw, per_pass = std::max<int64_t>(1, 64 / B);
  std::vector<torch::Tensor> drops;
  for (int64_t c0 = 0; c0 < cells; c0 += per_pass) {
    const int64_t n = std::min(per_pass, cells - c0);
    auto x = gray01.unsqueeze(0).repeat({n, 1, 1, 1, 1});  // [n, B, 1, H, W]
    for (int64_t j = 0; j < n; ++j) {
      const int64_t r = (c0 + j) / gw, q = (c0 + j) % gw;
      x[j].slice(2, r * P, (r + 1) * P).slice(3, q * P, (q + 1) * P).fill_(fill);
    }
    const auto l = model->forward(normalize_batch(x.view({n * B, 1, H, W}), pre).to(torch::kFloat32));
    const auto p = torch::softmax(l.view({n, B, -1}), 2);
    const auto picked = p.gather(2, idx.unsqueeze(0).expand({n, B, 1})).squeeze(2);  // [n, B]
    drops.push_back((base.view({1, B}) - picked).t());  // [B, n]
  }
  auto cam_grid = torch::cat(drops, 1).view({B, gh, gw});
  cam_grid = cam_grid * cam_grid.ge(floor);
  return {cam_from_grid(cam_grid, H, W), cam_grid, logits, resolved};
}

}  // namespace osteofm
