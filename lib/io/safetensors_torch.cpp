#include "io/safetensors_torch.hpp"

#include <cstring>

#include "core/error.hpp"

namespace osteofm {

namespace {
// The LibTorch type a safetensors dtype is read into, and whether that needs widening.
torch::ScalarType torch_type(DType d, bool* widened) {
  *widened = false;
  switch (d) {
    case DType::Bool: return torch::kBool;
    case DType::U8: return torch::kUInt8;
    case DType::I8: return torch::kInt8;
    case DType::I16: return torch::kInt16;
    case DType::I32: return torch::kInt32;
    case DType::I64: return torch::kInt64;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::F32: return torch::kFloat32;
    case DType::F64: return torch::kFloat64;
    case DType::U16: *widened = true; return torch::kInt32;
    case DType::U32: *widened = true; return torch::kInt64;
    case DType::U64: *widened = true; return torch::kInt64;
  }
  return torch::kFloat32;
}

template <typename U, typename S>
torch::Tensor widen(const uint8_t* p, const std::vector<int64_t>& shape, int64_t n, torch::ScalarType type) {
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(type));
  S* out = t.data_ptr<S>();
  for (int64_t i = 0; i < n; ++i) {
    U v;
    std::memcpy(&v, p + i * sizeof(U), sizeof(U));
    out[i] = static_cast<S>(v);
  }
  return t;
}
}  // namespace

DType dtype_of(torch::ScalarType type) {
  switch (type) {
    case torch::kBool: return DType::Bool;
    case torch::kUInt8: return DType::U8;
    case torch::kInt8: return DType::I8;
    case torch::kInt16: return DType::I16;
    case torch::kInt32: return DType::I32;
    case torch::kInt64: return DType::I64;
    case torch::kFloat16: return DType::F16;
    case torch::kBFloat16: return DType::BF16;
    case torch::kFloat32: return DType::F32;
    case torch::kFloat64: return DType::F64;
    default: throw RuntimeFailure(std::string("safetensors cannot store tensors of type ") + c10::toString(type));
  }
}

torch::Tensor tensor_from(const std::shared_ptr<SafetensorsFile>& file, const TensorEntry& e) {
  bool widened = false;
  const torch::ScalarType type = torch_type(e.dtype, &widened);
  uint8_t* p = file->data(e);
  const int64_t n = e.numel();
  if (widened) {
    if (e.dtype == DType::U16) return widen<uint16_t, int32_t>(p, e.shape, n, type);
    if (e.dtype == DType::U32) return widen<uint32_t, int64_t>(p, e.shape, n, type);
    return widen<uint64_t, int64_t>(p, e.shape, n, type);
  }
  const auto options = torch::TensorOptions().dtype(type);
  if (n == 0) return torch::empty(e.shape, options);
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(e.dtype) == 0) {
    std::shared_ptr<SafetensorsFile> keep = file;
    return torch::from_blob(p, e.shape, [keep](void*) mutable { keep.reset(); }, options);
  }
  torch::Tensor t = torch::empty(e.shape, options);
  std::memcpy(t.data_ptr(), p, e.nbytes());
  return t;
}

std::map<std::string, torch::Tensor> load_safetensors(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& e : file->tensors()) out.emplace(e.name, tensor_from(file, e));
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter w;
  for (const auto& [name, t] : tensors) {
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    std::vector<int64_t> shape(c.sizes().begin(), c.sizes().end());
    w.add(name, dtype_of(c.scalar_type()), shape, c.data_ptr(), c.numel() * c.element_size());
  }
  for (const auto& [k, v] : metadata) w.set_metadata(k, v);
  w.write(path);
}

}  // namespace osteofm
