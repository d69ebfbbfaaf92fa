// `osteofm embed`: backbone features of pre-normalised tensors or of manifest images.
#pragma once
#include <string>

#include <torch/types.h>

#include "data/transforms.hpp"
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
  torch::Tensor cls, patch_tokens, pooled;  // fp32, CPU; cls undefined without a class token
};

torch::Device resolve_device(const std::string& name);

// Runs the backbone in inference mode, in batches, on the chosen device.
Embeddings embed_tensor(Backbone& backbone, const torch::Tensor& images, const EmbedOptions& options);

// Decodes, preprocesses and embeds every row of a manifest (in row order).
Embeddings embed_manifest(Backbone& backbone, const Manifest& manifest, const EmbedOptions& options);

// "FILE.safetensors[:KEY]": the tensor KEY, or the file's only tensor.
torch::Tensor read_tensor_argument(const std::string& spec);

void write_embeddings(const std::string& path, const Embeddings& e, const std::map<std::string, std::string>& metadata);

}  // namespace osteofm
