// Linear probe: the backbone frozen entirely, only the head trains (on cached features).
#include <nlohmann/json.hpp>

#include "tuning/strategy.hpp"

namespace osteofm {

namespace {
class LinearProbe : public TuningStrategy {
 public:
  std::string name() const override { return "linear_probe"; }
  void apply(Classifier& m) const override {
    freeze_parameters(*m->backbone);
    m->first_grad_block = m->backbone->arch.depth;  // nothing in the backbone needs autograd
  }
  bool frozen_backbone() const override { return true; }
};

const StrategyRegistrar linear_probe_registrar("linear_probe", [](const nlohmann::json& c) {
  check_strategy_fields(c, {}, "linear_probe");
  return std::unique_ptr<TuningStrategy>(new LinearProbe());
});

}  // namespace
}  // namespace osteofm
