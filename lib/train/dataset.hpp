// A split of a manifest, decoded and resized once into memory, and radiograph-appropriate
// augmentation as tensor ops on [0,1] batches.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include "io/manifest.hpp"
#include "models/backbone.hpp"

namespace osteofm {

struct SplitData {
  std::string split;
  std::vector<std::string> image_id, patient_id;
  std::vector<int> labels;
  std::vector<std::vector<std::string>> extra;  // passed-through manifest columns
  torch::Tensor images;                         // [N, 1, S, S] in [0,1]
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// Decodes and resizes the rows of one split in parallel. Rows without a label are an
// InputError naming the row. An empty split gives an empty SplitData.
SplitData load_split(const Manifest& manifest, const std::string& split, const Preprocessing& pre, int threads);

// Small rotation / scale / translation, brightness / contrast / gamma; no horizontal flip
// unless asked (the heart and aortic knob sit on the left: a flipped chest is not a chest
// this model will ever see). Uses torch's global generator: seed it for reproducibility.
torch::Tensor augment_batch(const torch::Tensor& gray01, const nlohmann::json& augment);

}  // namespace osteofm
