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

class AdamW {
 public:
  AdamW(std::vector<AdamWGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);
  void step();       // uses each parameter's .grad(); parameters without one are skipped
  void zero_grad();
  std::vector<AdamWGroup>& groups() { return groups_; }
  // exp_avg / exp_avg_sq / step of every parameter, by name, for a checkpoint.
  std::map<std::string, torch::Tensor> state() const;
  void load_state(const std::map<std::string, torch::Tensor>& state);

 private:
  std::vector<AdamWGroup> groups_;
  double beta1_, beta2_, eps_;
  std::map<std::string, torch::Tensor> m_, v_;
  std::map<std::string, int64_t> t_;
};

}  // namespace osteofm
