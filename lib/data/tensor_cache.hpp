// Tensor cache (design.md "Tensor cache and the GPU-side build"): every image of a
// manifest decoded, windowed and resized once, stored as uint16 (value = round(x * 65535))
// with its region mask as uint8, in safetensors shards; an index.csv (a manifest with the
// cache's columns) and cache.json describe it. Training, eval, explain and predict read a
// cache wherever they read a manifest (load_manifest detects it).
//
// Layout of DIR:
//   build.json               what is being built (written first; a rerun must match it)
//   shard-00000.safetensors  `images` U16 [n,S,S], `masks` U8 [n,S,S]; metadata: the build
//                            key, first row, and per row its status and original size
//   index.csv                image_id, patient_id, path (source), t_score/label, split,
//                            mask (source), passed-through columns, cache_row,
//                            cache_status ("ok" or why not), cache_has_mask,
//                            cache_orig_width, cache_orig_height
//   regions.json             the region table (copied from beside the manifest, if any)
//   cache.json               written last: the cache is complete
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "data/cache_index.hpp"
#include "io/manifest.hpp"
#include "io/safetensors.hpp"
#include "data/preprocessing.hpp"

namespace osteofm {

struct CacheOptions {
  int size = 224;              // side of the stored square image
  std::string fit = "crop";    // crop: short side to size + centre crop; squash: ignore aspect
  double crop_fraction = 1.0;  // crop: the short side is resized to floor(size / crop_fraction) first
  std::string crop_offset = "floor";  // crop: floor (HF) or round (torchvision) for an odd margin
  double shard_mb = 256;       // target shard size
  int threads = 0;             // decoding threads (<= 0: all cores)
};

struct CacheSummary {
  std::string dir;
  size_t images = 0, decoded = 0, reused = 0, failed = 0, shards = 0;
  double seconds = 0;
  std::vector<std::string> failures;  // one line each: "<manifest>:<line>: row N: <reason>"
};

// Builds (or continues) the cache of `manifest_path` in `out_dir`. Shards already written
// by an interrupted build with the same manifest and options are kept; a folder holding
// another cache is an InputError. Images that cannot be decoded are recorded (status in the
// index, zeros in the shard) and listed in the summary; nothing is half-written.
// The geometry `options` asks for, as a Preprocessing.
Preprocessing cache_geometry(const CacheOptions& options);
// The inverse: `options`' size, fit, crop fraction and offset set to those of `geometry`.
void set_cache_geometry(CacheOptions& options, const Preprocessing& geometry);

CacheSummary build_tensor_cache(const std::string& manifest_path, const std::string& out_dir,
                                const CacheOptions& options);

// What a decoder gives for one manifest row: pixels of the S x S image (round(x * 65535))
// and mask, or a failure reason (status other than "ok").
struct CachedRow {
  std::vector<uint16_t> image;  // S*S
  std::vector<uint8_t> mask;    // S*S, or empty
  int orig_width = 0, orig_height = 0;
  std::string status = "ok";
};
using RowDecoder = std::function<CachedRow(const ManifestRow& row, const Preprocessing& geometry)>;

// The same with any decoder (build_tensor_cache decodes the files with io/image): lets a
// cache be made from pixels computed in memory, e.g. where no image library is built in.
CacheSummary build_tensor_cache_with(const std::string& manifest_path, const std::string& out_dir,
                                     const CacheOptions& options, const RowDecoder& decoder);

// A finished cache, its shards memory-mapped. Thread-safe for reading.
class TensorCache {
 public:
  static std::shared_ptr<const TensorCache> open(const std::string& dir);
  int size() const { return geometry_.size; }
  int64_t rows() const { return rows_; }
  // Image `row` as float [1, S, S] in [0,1] (value / 65535).
  torch::Tensor image(int64_t row) const;
  // Its region mask, uint8 [S, S].
  torch::Tensor mask(int64_t row) const;
  // The geometry the cache was made with, as a Preprocessing (size, fit, crop fraction
  // and offset; normalisation left at its defaults).
  const Preprocessing& geometry() const { return geometry_; }

 private:
  const uint8_t* pixels(int64_t row, const char* tensor, size_t bytes_per_pixel) const;
  std::string dir_;
  Preprocessing geometry_;
  int64_t rows_ = 0, rows_per_shard_ = 0;
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
};

// Brings a cached [.., S', S'] batch to the model's size when it differs (antialiased
// bicubic, as the decoder's resize); a tensor op, on the batch's device.
torch::Tensor fit_cached_images(const torch::Tensor& images, int size);
torch::Tensor fit_cached_masks(const torch::Tensor& masks, int size);

}  // namespace osteofm
