// Attention rollout (explain/rollout.hpp): class-agnostic.
#include "data/transforms.hpp"
#include "explain/rollout.hpp"
#include "explain/saliency_map.hpp"

namespace osteofm {
namespace {

class RolloutMap : public SaliencyMap {
 public:
  const char* name() const override { return "rollout"; }
  const char* title() const override { return "attention rollout"; }
  GradCamResult compute(Classifier& model, const torch::Tensor& x01, const Preprocessing& pre,
                        const std::vector<int64_t>& targets) const override {
    return attention_rollout(model, normalize_batch(x01, pre), targets);
  }
};

std::unique_ptr<SaliencyMap> make_rollout(const MapSettings&) { return std::make_unique<RolloutMap>(); }
const SaliencyMapRegistrar rollout_registrar(40, {"rollout", make_rollout});

}  // namespace
}  // namespace osteofm
