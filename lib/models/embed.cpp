#include "models/embed.hpp"

#include <algorithm>
#include <cmath>

#include "core/autocast.hpp"
#include "core/error.hpp"
#include "core/progress.hpp"
#include "io/safetensors_torch.hpp"

namespace osteofm {

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) throw InputError("--device " + name + ": no CUDA device in this build or machine");
    return torch::Device(name);
  }
  throw InputError("--device must be auto, cpu or cuda[:N], not '" + name + "'");
}

Embeddings embed_tensor(Backbone& b, const torch::Tensor& images, const EmbedOptions& opt) {
  if (opt.batch_size < 1) throw InputError("--batch must be at least 1");
  const torch::Device device = resolve_device(opt.device);
  if (opt.precision != "auto" && opt.precision != "fp32" && opt.precision != "bf16")
    throw InputError("--precision must be auto, fp32 or bf16");
  // auto: fp32 weights with bf16 autocast on CUDA; bf16: the model itself cast to bf16.
  const bool cast_bf16 = opt.precision == "bf16";
  const auto dtype = cast_bf16 ? torch::kBFloat16 : torch::kFloat32;
  // The caller's backbone goes back to the device and precision it came on, also when a
  // batch throws (it was left in float32 on the embedding device).
  const auto params = b.vit->parameters();
  const torch::Device home_device = params.empty() ? torch::Device(torch::kCPU) : params.front().device();
  const torch::ScalarType home_dtype = params.empty() ? torch::kFloat32 : params.front().scalar_type();
  struct RestorePlacement {
    Backbone& backbone;
    torch::Device device;
    torch::ScalarType dtype;
    ~RestorePlacement() { backbone.vit->to(device, dtype); }
  } restore{b, home_device, home_dtype};
  b.vit->to(device, dtype);
  torch::InferenceMode guard;
  CudaAutocast autocast(opt.precision == "auto" && device.is_cuda());
  std::vector<torch::Tensor> cls, patch, pooled;
  ProgressBar bar("embed " + b.preset.name, static_cast<long>(images.size(0)));
  for (int64_t i = 0; i < images.size(0); i += opt.batch_size) {
    const int64_t e = std::min<int64_t>(i + opt.batch_size, images.size(0));
    auto x = images.slice(0, i, e).to(device, dtype);
    VitOutput o = b.vit->forward(x);
    if (o.cls.defined()) cls.push_back(o.cls.to(torch::kCPU, torch::kFloat32));  // none without a class token
    patch.push_back(o.patch_tokens.to(torch::kCPU, torch::kFloat32));
    pooled.push_back(o.pooled.to(torch::kCPU, torch::kFloat32));
    bar.update(static_cast<long>(e));
  }
  bar.finish(std::to_string(images.size(0)) + " images");
  return {cls.empty() ? torch::Tensor() : torch::cat(cls), torch::cat(patch), torch::cat(pooled)};
}

Embeddings embed_manifest(Backbone& b, const Manifest& m, const EmbedOptions& opt) {
  if (m.rows.empty()) throw InputError(m.path + ": no rows to embed");
  std::vector<torch::Tensor> inputs;
  for (const auto& r : m.rows) {
    try {
      inputs.push_back(preprocess_image(read_image(r.path), b.preset.preprocessing));
    } catch (const InputError& e) {
      throw InputError(m.where(r) + ": " + e.what());
    }
  }
  return embed_tensor(b, torch::stack(inputs), opt);
}

torch::Tensor read_tensor_argument(const std::string& spec) {
  std::string path = spec, key;
  const auto colon = spec.rfind(':');
  if (colon != std::string::npos && spec.find(".safetensors", colon) == std::string::npos &&
      spec.compare(colon > 12 ? colon - 12 : 0, 12, ".safetensors") == 0) {
    path = spec.substr(0, colon);
    key = spec.substr(colon + 1);
  }
  auto file = SafetensorsFile::open(path);
  if (key.empty() && file->tensors().size() != 1) {
    std::string names;
    for (const auto& e : file->tensors()) names += (names.empty() ? "" : ", ") + e.name;
    throw InputError(path + ": holds " + (names.empty() ? "no tensor" : "several tensors (" + names + ")") +
                     "; name one as FILE.safetensors:KEY");
  }
  const TensorEntry& entry = key.empty() ? file->tensors().front() : file->at(key);
  // Caught here, not deep inside LibTorch: images must be a non-empty [B,3,H,W] batch.
  if (entry.shape.size() != 4 || entry.shape[1] != 3)
    throw InputError(path + ": tensor '" + entry.name + "' must be images [B,3,H,W]");
  if (entry.shape[0] == 0 || entry.shape[2] == 0 || entry.shape[3] == 0)
    throw InputError(path + ": tensor '" + entry.name + "' holds no image (a dimension is 0)");
  return tensor_from(file, entry).to(torch::kFloat32);
}

void write_embeddings(const std::string& path, const Embeddings& e, const std::map<std::string, std::string>& metadata) {
  std::map<std::string, torch::Tensor> tensors{{"patch_tokens", e.patch_tokens}, {"pooled", e.pooled}};
  if (e.cls.defined()) tensors["cls"] = e.cls;  // a family without a class token has none
  save_safetensors(path, tensors, metadata);
}

}  // namespace osteofm
