#include "models/linear_layer.hpp"

namespace osteofm {

DenseLinear::DenseLinear(int64_t in, int64_t out, bool with_bias) {
  // torch::nn::Linear's own reset() draws the initial values: Kaiming-uniform weight,
  // uniform bias, in that order.
  torch::nn::Linear init(torch::nn::LinearOptions(in, out).bias(with_bias));
  weight = register_parameter("weight", init->weight);
  if (with_bias) bias = register_parameter("bias", init->bias);
}

torch::Tensor DenseLinear::forward(const torch::Tensor& x) { return torch::nn::functional::linear(x, weight, bias); }

}  // namespace osteofm
