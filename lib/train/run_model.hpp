// A classifier as a run config describes it (backbone + head + strategy), and a finished
// run's model loaded back from its folder (for explain and predict).
#pragma once
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "models/checkpoint.hpp"
#include "models/classifier.hpp"
#include "train/config.hpp"
#include "tuning/strategy.hpp"

namespace osteofm {

struct BuiltClassifier {
  Backbone backbone;
  Classifier model{nullptr};
  std::unique_ptr<TuningStrategy> strategy;  // already applied to `model`
};

// The preset's preprocessing with the config's backbone.image_size and
// backbone.crop_fraction (0 = the preset's) applied; InputError when the size is not a
// multiple of the patch size, or a crop fraction is given to a squashing family.
Preprocessing configured_preprocessing(const Backbone& backbone, const BackboneSettings& backbone_config);

// Backbone (preset, arch, weights or seeded random), its configured preprocessing, head,
// strategy applied. The head's
// initialisation follows torch's global generator, seeded with train.seed here.
BuiltClassifier build_classifier(const RunConfig& config);

// Copies a checkpoint's "model.<name>" tensors into the model's trainable parameters;
// InputError naming the tensor when one is missing.
void load_trainable(Classifier& model, const std::map<std::string, torch::Tensor>& saved, const std::string& source);

// What a run trained with: RUN/preprocessing.json, or, for runs older than that file, the
// preset's geometry with the whole short side cropped (what every preset did then).
Preprocessing run_preprocessing(const std::string& run_dir, const Preprocessing& preset);

struct TrainedModel {
  RunConfig config;  // as the run stored it, today's keys added at their defaults
  BuiltClassifier built;
  Preprocessing pre;
  torch::Device device{torch::kCPU};
};

// A finished run (status.json "done"): its best checkpoint, adapters merged, in eval mode
// on `device` ("auto", "cpu", "cuda[:N]"). InputError naming the file when the folder is
// not a finished run.
TrainedModel load_trained_model(const std::string& run_dir, const std::string& device = "auto");

}  // namespace osteofm
