// `osteofm embed`: backbone features of pre-normalised tensors or of manifest images.
#pragma once
#include <string>

#include <torch/types.h>

#include "io/image.hpp"
#include "io/manifest.hpp"
#include "models/checkpoint.hpp"

namespace osteofm {

struct EmbedOptions {
  int batch_size = 8;
  std::string device = "auto";    // auto | cpu | cuda | cuda:N
  std::string precision = "auto";  // auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16 (cast)
};

struct Embeddings {
  torch::Tensor cls, patch_tokens, pooled;  // fp32, CPU
};

torch::Device resolve_device(const std::string& name);

// Runs the backbone in inference mode, in batches, on the chosen device.
Embeddings embed_tensor(Backbone& backbone, const torch::Tensor& images, const EmbedOptions& options);

// A radiograph in [0,1] -> the family's model input [3, S, S]: resize (short side + centre
// crop, or squash) with PIL's antialiased bicubic filter, grey replicated to RGB, the
// family's mean/std. Works on the float image: no 8-bit rounding of 12-16-bit data.
torch::Tensor preprocess_image(const GrayImage& image, const Preprocessing& pre);
// The two halves of preprocess_image: resize/crop to [1, S, S] in [0,1] (where training
// augments), then grey -> RGB and mean/std for a batch [B, 1, S, S] -> [B, 3, S, S].
torch::Tensor resize_image(const GrayImage& image, const Preprocessing& pre);
torch::Tensor normalize_batch(const torch::Tensor& gray01, const Preprocessing& pre);
// A region mask (8-bit bits, height x width) with the image's geometry, by nearest
// neighbour (half-pixel centres): [S, S] uint8.
torch::Tensor resize_mask(const uint8_t* mask, int height, int width, const Preprocessing& pre);
// round(x * 65535) / 65535: the 16-bit grid every model input lies on.
torch::Tensor quantize16(const torch::Tensor& x01);

// Decodes, preprocesses and embeds every row of a manifest (in row order).
Embeddings embed_manifest(Backbone& backbone, const Manifest& manifest, const EmbedOptions& options);

// "FILE.safetensors[:KEY]": the tensor KEY, or the file's only tensor.
torch::Tensor read_tensor_argument(const std::string& spec);

void write_embeddings(const std::string& path, const Embeddings& e, const std::map<std::string, std::string>& metadata);

}  // namespace osteofm
