// Safetensors <-> torch::Tensor.
#pragma once
#include <map>
#include <memory>
#include <string>

#include <torch/types.h>

#include "io/safetensors.hpp"

namespace osteofm {

// A CPU tensor viewing the mapped bytes when they are aligned for the dtype (the file
// mapping stays alive as long as the tensor), else a copy. Unsigned 16/32/64-bit types
// have no LibTorch dtype before 2.3 and are widened to the next signed type (a copy).
torch::Tensor tensor_from(const std::shared_ptr<SafetensorsFile>& file, const TensorEntry& entry);

// Every tensor of a file, by name.
std::map<std::string, torch::Tensor> load_safetensors(const std::string& path);

// Writes tensors (any device, any layout; copied to contiguous CPU) atomically.
void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// DType <-> torch scalar type; throws RuntimeFailure for types safetensors cannot hold.
DType dtype_of(torch::ScalarType type);

}  // namespace osteofm
