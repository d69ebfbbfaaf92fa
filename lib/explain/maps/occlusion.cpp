// Occlusion saliency on the patch grid (explain/gradcam.hpp occlusion_cam): no gradient,
// the faithful reference the gradient maps are judged against.
#include "explain/saliency_map.hpp"

namespace osteofm {
namespace {

class OcclusionMap : public SaliencyMap {
 public:
  explicit OcclusionMap(const MapSettings& s) : settings_(s) {}
  const char* name() const override { return "occlusion"; }
  const char* title() const override { return "occlusion"; }
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

std::unique_ptr<SaliencyMap> make_occlusion(const MapSettings& s) { return std::make_unique<OcclusionMap>(s); }
const SaliencyMapRegistrar occlusion_registrar(30, {"occlusion", make_occlusion});

}  // namespace
}  // namespace osteofm
