// Anatomical segmenters (design.md "Segmenters"): a TorchScript module exported from any
// public segmentation model, its spec (format osteofm-segmenter/1), and the pipeline of
// ../shared/fixtures/segment/README.md that turns one radiograph into the bit-coded region
// mask the explainer reads.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "data/regions.hpp"
#include "io/image.hpp"

namespace osteofm {

struct SegmenterSpec {
  std::string source;  // the spec file, for messages
  int height = 0, width = 0, channels = 0;
  std::vector<float> mean, std;
  std::string activation;  // "sigmoid" | "softmax"
  float threshold = 0.5f;  // sigmoid only
  std::vector<std::optional<std::string>> output_channels;  // nullopt: background
  struct RegionChannels {
    std::string name;
    std::vector<int> channels;  // indices into output_channels
  };
  std::vector<RegionChannels> regions;  // in the spec's order
  RegionTable table;                    // bits (fixture README rule), bone or control
  // Regions that may touch the image border without a QC flag (spec "qc": {"may_touch_border"}).
  std::vector<std::string> may_touch_border;
  std::string text;  // the spec as read (kept in segment.json)
};

// Parses and checks a spec: format, input geometry and normalisation, activation,
// threshold in (0, 1), channel names unique, every region's channels named in the output,
// at most 8 regions and bits for all of them. InputError "<source>: <key>: <why>" otherwise.
SegmenterSpec parse_segmenter_spec(const std::string& text, const std::string& source);
// The spec beside a model: SEG.pt -> SEG.json.
std::string default_spec_path(const std::string& model_path);

// One image's result: the bit-coded mask (image size) and, per named output channel, its
// binary mask's statistics inputs (kept only as the channel mask for QC).
struct SegmentedImage {
  int width = 0, height = 0;
  std::vector<uint8_t> mask;                  // region bits, row-major
  std::vector<std::vector<uint8_t>> channel_on;  // per output channel: 1 where that channel is on
};

class Segmenter {
 public:
  // Loads the TorchScript file (InputError when it is not one: a pickle, a safetensors,
  // anything else) and proves it fits the spec with one run on zeros of the input size
  // (a wrong channel count or output shape is an InputError naming both files).
  Segmenter(const std::string& model_path, SegmenterSpec spec, torch::Device device);
  ~Segmenter();
  Segmenter(const Segmenter&) = delete;
  Segmenter& operator=(const Segmenter&) = delete;

  const SegmenterSpec& spec() const { return spec_; }
  // Steps 1-3: [C, h, w] float32, the module's input for one image.
  torch::Tensor preprocess(const GrayImage& image) const;
  // Step 4 for a batch [B, C, h, w]: logits [B, K, h', w'] on the CPU, float32.
  torch::Tensor logits(const torch::Tensor& batch);
  // Steps 5-8 for one image's logits [K, h', w'] and its original size.
  SegmentedImage masks(const torch::Tensor& logits, int width, int height) const;

 private:
  struct Module;
  std::string model_path_;
  SegmenterSpec spec_;
  torch::Device device_;
  std::unique_ptr<Module> module_;
};

}  // namespace osteofm
