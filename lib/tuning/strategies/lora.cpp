// LoRA (Hu et al. 2021, as in peft): each targeted Linear layer of the frozen backbone is
// wrapped, W' = W + (alpha / r) B A, with A [r, in] Kaiming-uniform and B [out, r] zeros,
// so an adapted model equals its base at step 0. For the fused qkv projection the adapters
// may cover only some row blocks (q and v: peft's target_modules = ["query", "value"] on
// a split-qkv model). After training the adapters are folded into the weights.
// The ViT knows nothing of this: the wrapper replaces the layer through linear_sites().
#include <cmath>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "tuning/strategy.hpp"

namespace osteofm {

namespace {

struct LoraOptions {
  int rank = 16;
  double alpha = 16;
  double dropout = 0.1;
  // Any of: qkv (whole fused projection), qv (q and v blocks of it), proj (attention
  // output), fc1, fc2.
  std::vector<std::string> targets = {"qv"};
};

// base(x) + dropout(x) A^T B^T (alpha / r), per row block of the base's output.
// Parameters: base.weight, base.bias (frozen), lora_A<k>, lora_B<k>.
struct LoraLinear : LinearLayer {
  // row_blocks: (first row, rows) of the base weight that receive an adapter each.
  LoraLinear(std::shared_ptr<DenseLinear> base_layer, const std::vector<std::pair<int64_t, int64_t>>& row_blocks,
             const LoraOptions& o)
      : base(base_layer), scaling(o.alpha / o.rank), blocks(row_blocks) {
    register_module<LinearLayer>("base", base);
    const int64_t in = base->weight.size(1);
    for (size_t b = 0; b < blocks.size(); ++b) {
      auto a = torch::empty({o.rank, in});
      // peft: nn.init.kaiming_uniform_(A, a=sqrt(5)) -> bound = 1 / sqrt(fan_in)
      torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
      A.push_back(register_parameter("lora_A" + std::to_string(b), a));
      B.push_back(register_parameter("lora_B" + std::to_string(b), torch::zeros({blocks[b].second, o.rank})));
    }
    dropout = register_module("dropout", torch::nn::Dropout(o.dropout));
    for (auto& t : A) t.set_data(t.to(base->weight.device(), base->weight.scalar_type()));
    for (auto& t : B) t.set_data(t.to(base->weight.device(), base->weight.scalar_type()));
  }

  torch::Tensor forward(const torch::Tensor& x) override {
    // The base's pass first, as a statement of its own: autograd sums the gradients of `x`
    // in the reverse order of creation, and `base(x) + delta(x)` leaves that order to the
    // compiler (GCC builds the adapter's nodes first, which changes a run's last bits).
    const auto y = base->forward(x);
    return y + delta(x);
  }

  torch::Tensor delta(const torch::Tensor& x) {
    auto xd = dropout(x);
    const int64_t out_features = base->weight.size(0);
    std::vector<torch::Tensor> pieces;
    int64_t row = 0;
    auto zeros = [&](int64_t n) {
      auto shape = x.sizes().vec();
      shape.back() = n;
      return torch::zeros(shape, x.options());
    };
    for (size_t b = 0; b < blocks.size(); ++b) {
      if (blocks[b].first > row) pieces.push_back(zeros(blocks[b].first - row));
      pieces.push_back(torch::matmul(torch::matmul(xd, A[b].t()), B[b].t()) * scaling);
      row = blocks[b].first + blocks[b].second;
    }
    if (row < out_features) pieces.push_back(zeros(out_features - row));
    return pieces.size() == 1 ? pieces[0] : torch::cat(pieces, -1);
  }

  // The base with (alpha / r) B A added to its weight: the adapter merged.
  std::shared_ptr<DenseLinear> merged() {
    torch::NoGradGuard ng;
    auto w = torch::zeros_like(base->weight, A[0].options());
    for (size_t b = 0; b < blocks.size(); ++b)
      w.slice(0, blocks[b].first, blocks[b].first + blocks[b].second) += torch::matmul(B[b], A[b]) * scaling;
    base->weight.add_(w.to(base->weight.scalar_type()));
    return base;
  }

  std::shared_ptr<DenseLinear> base;
  double scaling;
  std::vector<std::pair<int64_t, int64_t>> blocks;
  std::vector<torch::Tensor> A, B;
  torch::nn::Dropout dropout{nullptr};
};

void check_options(const LoraOptions& o, int64_t width) {
  if (o.rank < 1) throw InputError("lora: rank must be at least 1");
  // A rank above the width adds parameters without adding rank (and can cost gigabytes).
  if (o.rank > width)
    throw InputError("lora: rank " + std::to_string(o.rank) + " exceeds the model width " + std::to_string(width));
  if (o.targets.empty()) throw InputError("lora: targets is empty (give some of qkv, qv, proj, fc1, fc2)");
  if (!(o.alpha > 0)) throw InputError("lora: alpha must be greater than 0");
  if (!(o.dropout >= 0 && o.dropout < 1)) throw InputError("lora: dropout must be in [0, 1)");
}

class LoraTuning : public TuningStrategy {
 public:
  explicit LoraTuning(LoraOptions o) : options_(std::move(o)) {}
  std::string name() const override { return "lora"; }

  void apply(Classifier& m) const override {
    VisionTransformer& vit = m->backbone;
    const int64_t D = vit->arch.width;
    check_options(options_, D);
    freeze_parameters(*vit);
    std::map<std::pair<int, std::string>, LinearSite> sites;
    for (const LinearSite& s : vit->linear_sites()) sites.emplace(std::make_pair(s.block, s.role), s);
    // Block by block, target by target: the adapters' random draws in a fixed order.
    for (int i = 0; i < vit->arch.depth; ++i) {
      for (const auto& t : options_.targets) {
        std::vector<std::pair<int64_t, int64_t>> rows;
        std::string role = t;
        if (t == "qv") {
          role = "qkv";
          rows = {{0, D}, {2 * D, D}};
        } else if (t != "qkv" && t != "proj" && t != "fc1" && t != "fc2") {
          throw InputError("lora: unknown target '" + t + "' (qkv, qv, proj, fc1, fc2)");
        }
        const LinearSite& site = sites.at({i, role});
        auto dense = std::dynamic_pointer_cast<DenseLinear>(site.layer());
        if (!dense) throw InputError("lora: target '" + role + "' given twice");
        if (rows.empty()) rows = {{0, dense->weight.size(0)}};
        site.replace(std::make_shared<LoraLinear>(dense, rows, options_));  // adapters are created trainable
      }
    }
    m->first_grad_block = 0;
  }

  // Folds every adapter into its base weight: inference then costs nothing extra, and the
  // parameter names are the plain ViT's again.
  void finalize(Classifier& m) const override {
    for (const LinearSite& site : m->backbone->linear_sites())
      if (auto lora = std::dynamic_pointer_cast<LoraLinear>(site.layer())) site.replace(lora->merged());
  }

 private:
  LoraOptions options_;
};

const StrategyRegistrar lora_registrar("lora", [](const nlohmann::json& c) {
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
