#include "explain/saliency_map.hpp"

#include "data/transforms.hpp"
#include "explain/rollout.hpp"

namespace osteofm {

namespace {
// Grad-CAM and gradient x activation: one backward pass per batch.
class GradientMap : public SaliencyMap {
 public:
  explicit GradientMap(CamMethod method) : method_(method) {}
  const char* name() const override { return cam_method_name(method_); }
  const char* title() const override { return cam_method_title(method_); }
  GradCamResult compute(Classifier& model, const torch::Tensor& x01, const Preprocessing& pre,
                        const std::vector<int64_t>& targets) const override {
    return grad_cam(model, normalize_batch(x01, pre), targets, method_);
  }

 private:
  CamMethod method_;
};

class OcclusionMap : public SaliencyMap {
 public:
  explicit OcclusionMap(const MapSettings& s) : settings_(s) {}
  const char* name() const override { return cam_method_name(CamMethod::Occlusion); }
  const char* title() const override { return cam_method_title(CamMethod::Occlusion); }
  GradCamResult compute(Classifier& model, const torch::Tensor& x01, const Preprocessing& pre,
                        const std::vector<int64_t>& targets) const override {
    return occlusion_cam(model, x01, pre, targets, settings_.fill_mean, settings_.occlusion_floor);
  }
  void describe(nlohmann::json& report, Classifier& model) const override {
    report["occlusion_cam"] = {{"cell_px", model->backbone->arch.patch_size},
                               {"fill", "mean"},
                               {"fill_value", settings_.fill_mean},
                               {"score", "drop of the target class probability"},
                               {"floor", settings_.occlusion_floor}};
  }

 private:
  MapSettings settings_;
};

class RolloutMap : public SaliencyMap {
 public:
  const char* name() const override { return cam_method_name(CamMethod::Rollout); }
  const char* title() const override { return cam_method_title(CamMethod::Rollout); }
  GradCamResult compute(Classifier& model, const torch::Tensor& x01, const Preprocessing& pre,
                        const std::vector<int64_t>& targets) const override {
    return attention_rollout(model, normalize_batch(x01, pre), targets);
  }
};
}  // namespace

std::unique_ptr<SaliencyMap> make_saliency_map(CamMethod method, const MapSettings& settings) {
  switch (method) {
    case CamMethod::Occlusion: return std::make_unique<OcclusionMap>(settings);
    case CamMethod::Rollout: return std::make_unique<RolloutMap>();
    case CamMethod::GradCam:
    case CamMethod::GradTimesActivation: break;
  }
  return std::make_unique<GradientMap>(method);
}

}  // namespace osteofm
