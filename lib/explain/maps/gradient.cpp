// Grad-CAM (the study's map, design.md) and gradient x activation: one backward pass per
// batch (explain/gradcam.hpp).
#include "data/transforms.hpp"
#include "explain/saliency_map.hpp"

namespace osteofm {
namespace {

class GradientMap : public SaliencyMap {
 public:
  GradientMap(CamMethod method, const char* name, const char* title) : method_(method), name_(name), title_(title) {}
  const char* name() const override { return name_; }
  const char* title() const override { return title_; }
  GradCamResult compute(Classifier& model, const torch::Tensor& x01, const Preprocessing& pre,
                        const std::vector<int64_t>& targets) const override {
    return grad_cam(model, normalize_batch(x01, pre), targets, method_);
  }

 private:
  CamMethod method_;
  const char* name_;
  const char* title_;
};

std::unique_ptr<SaliencyMap> make_gradcam(const MapSettings&) {
  return std::make_unique<GradientMap>(CamMethod::GradCam, "gradcam", "Grad-CAM");
}
std::unique_ptr<SaliencyMap> make_gradxact(const MapSettings&) {
  return std::make_unique<GradientMap>(CamMethod::GradTimesActivation, "gradxact", "gradient x activation");
}

const SaliencyMapRegistrar gradcam_registrar(10, {"gradcam", make_gradcam});
const SaliencyMapRegistrar gradxact_registrar(20, {"gradxact", make_gradxact});

}  // namespace
}  // namespace osteofm
