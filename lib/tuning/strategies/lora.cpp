// LoRA: the backbone frozen, low-rank adapters on the chosen projections train with the
// head, and are merged into the weights for inference.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "models/lora.hpp"
#include "tuning/strategy.hpp"

namespace osteofm {

namespace {
class LoraTuning : public TuningStrategy {
 public:
  explicit LoraTuning(LoraOptions o) : options_(std::move(o)) {}
  std::string name() const override { return "lora"; }
  void apply(Classifier& m) const override {
    freeze_parameters(*m->backbone);
    inject_lora(m->backbone, options_);  // adapters are created trainable
    m->first_grad_block = 0;
  }
  void finalize(Classifier& m) const override { merge_lora(m->backbone); }

 private:
  LoraOptions options_;
};

const StrategyRegistrar registrar("lora", [](const nlohmann::json& c) {
  check_strategy_fields(c, {"rank", "alpha", "dropout", "targets"}, "lora");
  LoraOptions o;
  if (c.contains("rank") && !(c["rank"].is_number_integer() && c["rank"].get<int64_t>() >= 1))
    throw InputError("strategy lora: rank must be a whole number >= 1, not " + c["rank"].dump());
  o.rank = c.value("rank", o.rank);
  o.alpha = c.value("alpha", o.alpha);
  o.dropout = c.value("dropout", o.dropout);
  if (c.contains("targets")) o.targets = c["targets"].get<std::vector<std::string>>();
  return std::unique_ptr<TuningStrategy>(new LoraTuning(o));
});

}  // namespace
}  // namespace osteofm
