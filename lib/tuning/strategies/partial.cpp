// Partial fine-tuning: the last `blocks` transformer blocks, the final norm and the
// projection train with the head; the blocks before them stay frozen.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "tuning/strategy.hpp"

namespace osteofm {

namespace {
class PartialFineTune : public TuningStrategy {
 public:
  explicit PartialFineTune(int blocks) : blocks_(blocks) {}
  std::string name() const override { return "partial"; }
  void apply(Classifier& m) const override {
    auto& vit = m->backbone;
    const int depth = vit->arch.depth;
    if (blocks_ < 1 || blocks_ > depth)
      throw InputError("strategy partial: blocks must be in 1.." + std::to_string(depth) + ", not " + std::to_string(blocks_));
    freeze_parameters(*vit);
    for (int i = depth - blocks_; i < depth; ++i)
      for (auto& p : vit->blocks[i]->parameters()) p.set_requires_grad(true);
    if (vit->norm)
      for (auto& p : vit->norm->parameters()) p.set_requires_grad(true);
    if (vit->proj.defined()) vit->proj.set_requires_grad(true);
    m->first_grad_block = depth - blocks_;
  }

 private:
  int blocks_;
};

const StrategyRegistrar partial_registrar("partial", [](const nlohmann::json& c) {
  check_strategy_fields(c, {"blocks"}, "partial");
  if (c.contains("blocks") && !c["blocks"].is_number_integer())
    throw InputError("strategy partial: blocks must be a whole number, not " + c["blocks"].dump());
  return std::unique_ptr<TuningStrategy>(new PartialFineTune(c.value("blocks", 2)));
});

}  // namespace
}  // namespace osteofm
