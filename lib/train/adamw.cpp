#include "train/adamw.hpp"

#include <cmath>

namespace osteofm {

bool exempt_from_weight_decay(const std::string& name, const torch::Tensor& parameter) {
  if (parameter.dim() <= 1) return true;
  const std::string leaf = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
  return leaf == "pos_embed" || leaf == "cls_token" || leaf == "register_tokens" || leaf == "mask_token";
}

std::vector<AdamWGroup> head_and_body_groups(const torch::nn::Module& model, double lr_head, double lr_body,
                                             double weight_decay) {
  std::vector<AdamWGroup> groups(4);
  for (size_t g = 0; g < groups.size(); ++g) {
    groups[g].lr = g % 2 == 0 ? lr_head : lr_body;
    groups[g].weight_decay = g < 2 ? weight_decay : 0.0;
  }
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    const size_t part = item.key().rfind("head", 0) == 0 ? 0 : 1;
    groups[part + (exempt_from_weight_decay(item.key(), item.value()) ? 2 : 0)].params.emplace_back(item.key(), item.value());
  }
  return groups;
}

AdamW::AdamW(std::vector<AdamWGroup> groups, double b1, double b2, double eps)
    : groups_(std::move(groups)), beta1_(b1), beta2_(b2), eps_(eps) {}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& [n, p] : g.params)
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

void AdamW::step() {
  torch::NoGradGuard ng;
  for (auto& g : groups_)
    for (auto& [name, p] : g.params) {
      if (!p.grad().defined()) continue;
      const auto grad = p.grad();
      auto& m = m_[name];
      auto& v = v_[name];
      if (!m.defined()) {
        m = torch::zeros_like(p);
        v = torch::zeros_like(p);
      }
      const int64_t t = ++t_[name];
      p.mul_(1.0 - g.lr * g.weight_decay);
      m.mul_(beta1_).add_(grad, 1.0 - beta1_);
      v.mul_(beta2_).addcmul_(grad, grad, 1.0 - beta2_);
      const double bc1 = 1.0 - std::pow(beta1_, static_cast<double>(t));
      const double bc2 = 1.0 - std::pow(beta2_, static_cast<double>(t));
      auto denom = (v.sqrt() / std::sqrt(bc2)).add_(eps_);
      p.addcdiv_(m, denom, -g.lr / bc1);
    }
}

std::map<std::string, torch::Tensor> AdamW::state() const {
  std::map<std::string, torch::Tensor> s;
  for (const auto& [name, m] : m_) {
    s["adam." + name + ".exp_avg"] = m;
    s["adam." + name + ".exp_avg_sq"] = v_.at(name);
    s["adam." + name + ".step"] = torch::tensor(t_.at(name), torch::kInt64);
  }
  return s;
}

void AdamW::load_state(const std::map<std::string, torch::Tensor>& s) {
  m_.clear();
  v_.clear();
  t_.clear();
  for (auto& g : groups_)
    for (auto& [name, p] : g.params) {
      auto it = s.find("adam." + name + ".exp_avg");
      if (it == s.end()) continue;
      m_[name] = it->second.to(p.options()).clone();
      v_[name] = s.at("adam." + name + ".exp_avg_sq").to(p.options()).clone();
      t_[name] = s.at("adam." + name + ".step").item<int64_t>();
    }
}

}  // namespace osteofm
