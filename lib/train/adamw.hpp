// AdamW (Loshchilov & Hutter; torch.optim.AdamW's update, decoupled weight decay) with
// parameter groups. Written here rather than using torch::optim::AdamW because its state
// map changed its key type between LibTorch 1.13 and 2.x, and resumable runs must save
// and restore that state exactly.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace osteofm {

struct AdamWGroup {
  std::vector<std::pair<std::string, torch::Tensor>> params;  // named, for checkpoints
  double lr = 1e-3, weight_decay = 0.01;
};

// Whether weight decay leaves this parameter alone, as timm and HF do: biases, norm scales
// and LayerScale (every tensor of one dimension: decaying them only shrinks a scale or a
// shift towards zero) and the learned tokens (position embeddings, class and register
// tokens, whose size is not what over-fits).
bool exempt_from_weight_decay(const std::string& name, const torch::Tensor& parameter);

// Four groups from a model's trainable parameters: [0] the head ("head*" names) at lr_head,
// [1] everything else that trains (backbone blocks, adapters) at lr_body, both with
// `weight_decay`; [2] and [3] the head's and the body's exempt tensors at the same rates
// without decay. Frozen tensors are in none.
std::vector<AdamWGroup> head_and_body_groups(const torch::nn::Module& model, double lr_head, double lr_body,
                                             double weight_decay);

class AdamW {
 public:
  AdamW(std::vector<AdamWGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);
  void step();       // uses each parameter's .grad(); parameters without one are skipped
  void zero_grad();
  std::vector<AdamWGroup>& groups() { return groups_; }
  // exp_avg / exp_avg_sq / step of every parameter, by name, for a checkpoint. The moments
  // are the optimizer's own tensors (no copy): write them out before the next step.
  std::map<std::string, torch::Tensor> state() const;
  void load_state(const std::map<std::string, torch::Tensor>& state);

 private:
  std::vector<AdamWGroup> groups_;
  double beta1_, beta2_, eps_;
  std::map<std::string, torch::Tensor> m_, v_;
  std::map<std::string, int64_t> t_;
};

}  // namespace osteofm
