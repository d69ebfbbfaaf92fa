// A split of a manifest, decoded and resized once into memory, and radiograph-appropriate
// augmentation as tensor ops on [0,1] batches.
#pragma once
#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/manifest.hpp"
#include "data/preprocessing.hpp"

namespace osteofm {

class BatchPrefetcher;
class TensorCache;

// The running epoch's prefetcher. Its thread reads the SplitData it was started on, so it
// never travels with a copy or a move (a shared one read a split already destroyed): a copy
// starts with none, and a move first stops the source's epoch, joining its thread.
struct PrefetchSlot {
  std::shared_ptr<BatchPrefetcher> running;
  PrefetchSlot() = default;
  PrefetchSlot(const PrefetchSlot&) {}
  PrefetchSlot(PrefetchSlot&& other) noexcept { other.running.reset(); }
  PrefetchSlot& operator=(const PrefetchSlot&) {
    running.reset();
    return *this;
  }
  PrefetchSlot& operator=(PrefetchSlot&& other) noexcept {
    running.reset();
    other.running.reset();
    return *this;
  }
};

// [width, height] of each image as decoded ({0, 0} until then): a mask must match it. take()
// fills it in on the prefetcher's thread while the split's owner reads it: locked.
class SourceSizes {
 public:
  // Row `row` of a split of `rows` images.
  void set(size_t row, size_t rows, int width, int height) {
    std::lock_guard<std::mutex> lock(mu_);
    if (sizes_.size() != rows) sizes_.assign(rows, {0, 0});
    sizes_[row] = {width, height};
  }
  std::array<int, 2> get(size_t row) const {
    std::lock_guard<std::mutex> lock(mu_);
    return row < sizes_.size() ? sizes_[row] : std::array<int, 2>{0, 0};
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::array<int, 2>> sizes_;
};

// One split: labels and ids, and its images either decoded once into memory (preload) or
// decoded on demand, batch by batch, with the next batches prefetched in the background.
struct SplitData {
  std::string split;
  std::vector<std::string> image_id, patient_id, path, where;  // where: "<manifest>:<line>: row N"
  std::vector<std::string> mask_path;                          // "" when the row has no mask
  std::vector<int64_t> cache_row;                              // rows in `cache` (tensor cache input)
  std::shared_ptr<const TensorCache> cache;                    // set when read from a tensor cache
  // Where cached images are resized to the model's size when the sizes differ (a tensor op:
  // the training device, so on the GPU when there is one). Preloaded splits resize once, on CPU.
  torch::Device resize_device{torch::kCPU};
  std::vector<int> labels;
  std::vector<double> t_scores;                 // the manifest's DXA T-scores, NaN where it has none
  std::vector<std::vector<std::string>> extra;  // passed-through manifest columns
  torch::Tensor images;                         // [N, 1, S, S] in [0,1] when preloaded
  Preprocessing pre;
  int threads = 1;
  // Shared by the copies of a split (the same images), among them an epoch's prefetcher.
  std::shared_ptr<SourceSizes> source_size = std::make_shared<SourceSizes>();
  int64_t size() const { return static_cast<int64_t>(labels.size()); }

  // Images [k, 1, S, S] of the given rows (decoded in parallel unless preloaded).
  torch::Tensor take(const std::vector<int64_t>& rows) const;
  torch::Tensor range(int64_t begin, int64_t end) const;
  // Region masks [k, S, S] uint8 of the given rows (the images' geometry); a row without a
  // mask gets all zeros (no region): callers that need one check mask_path.
  torch::Tensor take_masks(const std::vector<int64_t>& rows) const;
  // An epoch in `order`, `batch` rows at a time: next_batch() returns them in sequence
  // while up to `depth` further batches decode in the background.
  void begin_epoch(const std::vector<int64_t>& order, int64_t batch, int depth);
  torch::Tensor next_batch();
  PrefetchSlot prefetcher;
};

// Why a tensor cache of geometry `cache` cannot feed a model taking `model` ("" when it
// can): another fit, crop fraction or crop offset (another field of view), or fewer pixels.
// A larger cache of the same field of view is resized to the model's size.
std::string cache_geometry_problem(const Preprocessing& cache, const Preprocessing& model);

// Rows of one split ("" = every row). preload: "auto" (into memory when it takes at most
// 2 GiB), "yes", "no". Rows without a label are an InputError naming the row unless
// `need_labels` is false. A tensor cache (manifest.cache_dir) is read instead of
// decoding (InputError when cache_geometry_problem finds one).
SplitData load_split(const Manifest& manifest, const std::string& split, const Preprocessing& pre, int threads,
                     const std::string& preload = "auto", bool need_labels = true);

// A run config's augment section (train/config.hpp fills it; the defaults are declared in
// train/config_keys.cpp, not here).
struct AugmentSettings {
  bool enabled = false;
  double rotate_deg = 0;  // largest rotation, degrees
  double scale = 0, translate = 0, brightness = 0, contrast = 0, gamma = 0;  // largest relative changes
  bool hflip = false;
};

// Small rotation / scale / translation, brightness / contrast / gamma; no horizontal flip
// unless asked (the heart and aortic knob sit on the left: a flipped chest is not a chest
// this model will ever see). Uses torch's global generator: seed it for reproducibility.
torch::Tensor augment_batch(const torch::Tensor& gray01, const AugmentSettings& augment);

}  // namespace osteofm
