#include "train/batches.hpp"

#include <filesystem>

#include <torch/torch.h>

#include "core/autocast.hpp"
#include "core/hash.hpp"
#include "data/transforms.hpp"
#include "io/safetensors_torch.hpp"
#include "models/arch.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class ImageBatches : public BatchSource {
 public:
  ImageBatches(SplitData& train, const Preprocessing& pre, const AugmentSettings& augment, int prefetch, torch::Device device)
      : train_(train), pre_(pre), augment_(augment), prefetch_(prefetch), device_(device) {}
  void begin_epoch(const std::vector<int64_t>& order, int64_t batch) override {
    train_.begin_epoch(order, batch, prefetch_);
  }
  torch::Tensor next_train_outputs(Classifier& model, const torch::Tensor&) override {
    auto x = augment_batch(train_.next_batch().to(device_), augment_);
    return model->head_outputs(model->features(normalize_batch(x, pre_)));
  }
  torch::Tensor outputs(Classifier& model, const SplitData& d, int64_t begin, int64_t end) override {
    return model->head_outputs(model->features(normalize_batch(d.range(begin, end).to(device_), pre_)));
  }

 private:
  SplitData& train_;
  Preprocessing pre_;
  AugmentSettings augment_;
  int prefetch_;
  torch::Device device_;
};

torch::Tensor frozen_features(Classifier& m, const SplitData& d, const Preprocessing& pre, const RunConfig& config,
                              const std::string& cache_dir, torch::Device device) {
  // The key's text is what earlier versions made, so that their caches stay valid.
  std::string key = config.document.at("backbone").dump() + json(config.head.feature).dump() +
                    arch_to_json(m->backbone->arch).dump() + std::to_string(pre.size) + (pre.squash ? "s" : "c");
  key += pre.crop_key();
  const std::string& weights = config.backbone.weights;
  std::error_code ec;
  if (!weights.empty()) key += std::to_string(fs::file_size(weights, ec));
  for (const auto& id : d.image_id) key += "|" + id;
  const std::string path = (fs::path(cache_dir) / (d.split + "-" + hex64(fnv1a(key)) + ".safetensors")).string();
  if (fs::exists(path)) return load_safetensors(path).at("features").to(torch::kFloat32);
  torch::InferenceMode guard;
  m->eval();
  std::vector<torch::Tensor> parts;
  CudaAutocast autocast(device.is_cuda());
  for (int64_t i = 0; i < d.size(); i += 32) {
    auto x = normalize_batch(d.range(i, std::min(i + 32, d.size())).to(device), pre);
    parts.push_back(m->features(x).to(torch::kCPU, torch::kFloat32));
  }
  auto f = parts.empty() ? torch::zeros({0, m->feature_dim()}) : torch::cat(parts);
  save_safetensors(path, {{"features", f.to(torch::kFloat16)}}, {{"key", key.substr(0, 200)}});
  return load_safetensors(path).at("features").to(torch::kFloat32);  // the same fp16 values as a later cache hit
}

class FeatureBatches : public BatchSource {
 public:
  FeatureBatches(std::map<std::string, torch::Tensor> features, torch::Device device)
      : features_(std::move(features)), device_(device) {}
  void begin_epoch(const std::vector<int64_t>&, int64_t) override {}
  torch::Tensor next_train_outputs(Classifier& model, const torch::Tensor& rows) override {
    return model->head_outputs(features_.at("train").index_select(0, rows).to(device_));
  }
  torch::Tensor outputs(Classifier& model, const SplitData& d, int64_t begin, int64_t end) override {
    return model->head_outputs(features_.at(d.split).slice(0, begin, end).to(device_));
  }

 private:
  std::map<std::string, torch::Tensor> features_;
  torch::Device device_;
};

}  // namespace

std::unique_ptr<BatchSource> image_batches(SplitData& train, const Preprocessing& pre, const AugmentSettings& augment,
                                           int prefetch, torch::Device device) {
  return std::make_unique<ImageBatches>(train, pre, augment, prefetch, device);
}

std::unique_ptr<BatchSource> feature_batches(Classifier& model, const std::vector<const SplitData*>& splits,
                                             const Preprocessing& pre, const RunConfig& config,
                                             const std::string& cache_dir, torch::Device device) {
  fs::create_directories(cache_dir);
  std::map<std::string, torch::Tensor> features;
  for (const SplitData* d : splits) features[d->split] = frozen_features(model, *d, pre, config, cache_dir, device);
  return std::make_unique<FeatureBatches>(std::move(features), device);
}

}  // namespace osteofm
