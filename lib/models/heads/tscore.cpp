// head.type tscore: regresses the DXA T-score as a Gaussian (mean, spread); the classes are
// the Gaussian's mass in each WHO interval (normal > -1, osteoporosis <= -2.5). Trained on
// the Gaussian negative log-likelihood of the T-score, log sd + (t - mean)^2 / (2 sd^2),
// each image weighted by its class's weight (label smoothing does not apply).
#include <cmath>

#include "core/error.hpp"
#include "models/classifier.hpp"
#include "models/head.hpp"

namespace osteofm {
namespace {

class TscoreHead : public HeadType {
 public:
  const char* name() const override { return "tscore"; }
  int64_t outputs(int classes) const override {
    if (classes != 3) throw InputError("head.type tscore is made for the three ordered WHO classes");
    return 2;
  }
  bool regresses_tscore() const override { return true; }
  std::pair<torch::Tensor, torch::Tensor> tscore_distribution(const torch::Tensor& out) const override {
    // A floor under the spread keeps the likelihood finite on a perfectly fitted batch.
    return {out.select(1, 0), torch::nn::functional::softplus(out.select(1, 1)) + 0.01};
  }
  torch::Tensor class_scores(const ClassifierImpl&, const torch::Tensor& out) const override {
    const auto [mean, sd] = tscore_distribution(out);
    auto cdf = [&](double cut) { return 0.5 * torch::erfc(-(cut - mean) / (sd * std::sqrt(2.0))); };
    const auto below_osteoporosis = cdf(-2.5), below_normal = cdf(-1.0);
    const auto p =
        torch::stack({1 - below_normal, below_normal - below_osteoporosis, below_osteoporosis}, 1).clamp_min(1e-12);
    return torch::log(p / p.sum(1, true));
  }
  torch::Tensor loss(const ClassifierImpl&, const torch::Tensor& outputs, const torch::Tensor& rows,
                     const HeadLossInputs& inputs) const override {
    const auto [mean, sd] = tscore_distribution(outputs.to(torch::kFloat32));
    const auto t = inputs.t_scores.to(torch::kFloat32).index_select(0, rows).to(outputs.device());
    const auto w = inputs.class_weight.index_select(0, inputs.labels.index_select(0, rows).to(outputs.device()));
    const auto nll = torch::log(sd) + 0.5 * ((t - mean) / sd).pow(2);
    return (w * nll).sum() / w.sum();  // as cross_entropy's weighted mean
  }
};

const TscoreHead tscore_head;
const HeadRegistrar tscore_registrar(30, &tscore_head);

}  // namespace
}  // namespace osteofm
