#include "models/embed.hpp"
#include "core/resample.hpp"

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
  b.vit->to(device, dtype);
  torch::InferenceMode guard;
  CudaAutocast autocast(opt.precision == "auto" && device.is_cuda());
  std::vector<torch::Tensor> cls, patch, pooled;
  ProgressBar bar("embed " + b.preset.name, static_cast<long>(images.size(0)));
  for (int64_t i = 0; i < images.size(0); i += opt.batch_size) {
    const int64_t e = std::min<int64_t>(i + opt.batch_size, images.size(0));
    auto x = images.slice(0, i, e).to(device, dtype);
    VitOutput o = b.vit->forward(x);
    cls.push_back(o.cls.to(torch::kCPU, torch::kFloat32));
    patch.push_back(o.patch_tokens.to(torch::kCPU, torch::kFloat32));
    pooled.push_back(o.pooled.to(torch::kCPU, torch::kFloat32));
    bar.update(static_cast<long>(e));
  }
  bar.finish(std::to_string(images.size(0)) + " images");
  b.vit->to(torch::kFloat32);
  return {torch::cat(cls), torch::cat(patch), torch::cat(pooled)};
}

namespace {
// Resize to the family's geometry: squash to S x S, or short side to S + centre crop.
template <class Resize>
torch::Tensor fit_to(const torch::Tensor& x, int height, int width, const Preprocessing& pre, Resize resize) {
  const int S = pre.size;
  if (pre.squash) return resize(x, S, S);
  const double scale = static_cast<double>(S) / std::min(height, width);
  const int h = std::max(S, static_cast<int>(std::lround(height * scale)));
  const int w = std::max(S, static_cast<int>(std::lround(width * scale)));
  const int top = (h - S) / 2, left = (w - S) / 2;  // torchvision's centre crop rounding
  return resize(x, h, w).slice(2, top, top + S).slice(3, left, left + S);
}
}  // namespace

torch::Tensor quantize16(const torch::Tensor& x01) { return torch::round(x01 * 65535.0) / 65535.0; }

torch::Tensor resize_image(const GrayImage& img, const Preprocessing& pre) {
  auto x = torch::from_blob(const_cast<float*>(img.pixels.data()), {1, 1, img.height, img.width}, torch::kFloat32);
  x = fit_to(x, img.height, img.width, pre,
             [](const torch::Tensor& t, int h, int w) { return resize_bicubic_aa(t, h, w); });
  // Quantised to 16 bits, as a tensor cache stores it: decoding now or reading a cache
  // gives the model bit-identical input.
  return quantize16(x.clamp(0.0, 1.0)).squeeze(0).contiguous();  // [1, S, S]
}

torch::Tensor resize_mask(const uint8_t* mask, int height, int width, const Preprocessing& pre) {
  auto x = torch::from_blob(const_cast<uint8_t*>(mask), {1, 1, height, width}, torch::kUInt8).to(torch::kFloat32);
  x = fit_to(x, height, width, pre, [](const torch::Tensor& t, int h, int w) {
    return resize_nearest_exact(t, h, w);
  });
  return x.to(torch::kUInt8).squeeze(0).squeeze(0).contiguous();  // [S, S]
}

torch::Tensor normalize_batch(const torch::Tensor& gray01, const Preprocessing& pre) {
  auto opts = gray01.options();
  auto mean = torch::tensor({pre.mean[0], pre.mean[1], pre.mean[2]}, torch::kFloat32).to(opts).view({1, 3, 1, 1});
  auto std = torch::tensor({pre.std[0], pre.std[1], pre.std[2]}, torch::kFloat32).to(opts).view({1, 3, 1, 1});
  return (gray01.expand({gray01.size(0), 3, gray01.size(2), gray01.size(3)}) - mean) / std;
}

torch::Tensor preprocess_image(const GrayImage& img, const Preprocessing& pre) {
  return normalize_batch(resize_image(img, pre).unsqueeze(0), pre).squeeze(0).contiguous();
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
  save_safetensors(path, {{"cls", e.cls}, {"patch_tokens", e.patch_tokens}, {"pooled", e.pooled}}, metadata);
}

}  // namespace osteofm
