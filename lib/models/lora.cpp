#include "models/lora.hpp"

#include <cmath>

namespace osteofm {

LoraAdapterImpl::LoraAdapterImpl(int64_t in, int64_t out, const std::vector<std::pair<int64_t, int64_t>>& row_blocks,
                                 const LoraOptions& o)
    : in_features(in), out_features(out), scaling(o.alpha / o.rank), blocks(row_blocks) {
  for (size_t b = 0; b < blocks.size(); ++b) {
    auto a = torch::empty({o.rank, in});
    // peft: nn.init.kaiming_uniform_(A, a=sqrt(5)) -> bound = 1 / sqrt(fan_in)
    torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
    A.push_back(register_parameter("A" + std::to_string(b), a));
    B.push_back(register_parameter("B" + std::to_string(b), torch::zeros({blocks[b].second, o.rank})));
  }
  dropout = register_module("dropout", torch::nn::Dropout(o.dropout));
}

torch::Tensor LoraAdapterImpl::forward(const torch::Tensor& x) {
  auto xd = dropout(x);
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

torch::Tensor LoraAdapterImpl::delta_weight() const {
  auto w = torch::zeros({out_features, in_features}, A[0].options());
  for (size_t b = 0; b < blocks.size(); ++b)
    w.slice(0, blocks[b].first, blocks[b].first + blocks[b].second) += torch::matmul(B[b], A[b]) * scaling;
  return w;
}

}  // namespace osteofm
