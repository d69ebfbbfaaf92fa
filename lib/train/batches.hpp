// Where the training loop's inputs come from, so the loop does not branch on it: images
// (decoded or cached, augmented for training, normalised) through the whole model, or the
// features of a frozen backbone, computed once per split and cached on disk, through the
// head alone.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "data/loader.hpp"
#include "models/classifier.hpp"
#include "train/config.hpp"

namespace osteofm {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Starts an epoch over the training rows in `order`, `batch` rows at a time.
  virtual void begin_epoch(const std::vector<int64_t>& order, int64_t batch) = 0;
  // Head outputs (Classifier::head_outputs) of the epoch's next batch, whose rows are
  // `rows` (model in training mode).
  virtual torch::Tensor next_train_outputs(Classifier& model, const torch::Tensor& rows) = 0;
  // Head outputs of rows [begin, end) of a split for inference.
  virtual torch::Tensor outputs(Classifier& model, const SplitData& split, int64_t begin, int64_t end) = 0;
};

// Images through the whole model; training batches are augmented.
std::unique_ptr<BatchSource> image_batches(SplitData& train, const Preprocessing& pre, const AugmentSettings& augment,
                                           int prefetch, torch::Device device);

// Features of a frozen backbone for each of `splits`, read from or written to `cache_dir`
// as fp16 safetensors under a key of everything that changes them (backbone, weights
// file, arch, feature, geometry, images).
std::unique_ptr<BatchSource> feature_batches(Classifier& model, const std::vector<const SplitData*>& splits,
                                             const Preprocessing& pre, const RunConfig& config,
                                             const std::string& cache_dir, torch::Device device);

}  // namespace osteofm
