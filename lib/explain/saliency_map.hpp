// explain's maps behind one interface: Grad-CAM (the study's), gradient x activation,
// occlusion and attention rollout. A new map is one file in explain/maps/ that registers
// it by name; explain, the CLI and a study's explain.maps never branch on the method.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "data/preprocessing.hpp"
#include "explain/gradcam.hpp"
#include "models/classifier.hpp"

namespace osteofm {

struct MapSettings {
  double fill_mean = 0;          // occlusion: the fill value (the split's pixel mean)
  double occlusion_floor = 1e-3; // occlusion: drops below it count as 0
};

class SaliencyMap {
 public:
  virtual ~SaliencyMap() = default;
  virtual const char* name() const = 0;   // the --cam value
  virtual const char* title() const = 0;  // what figures call it ("Grad-CAM", ...)
  // Maps of the images `x01` [k,1,S,S] in [0,1] (on the model's device) for the classes
  // `targets` (kPredictedClass: the predicted one), with the unoccluded logits.
  virtual GradCamResult compute(Classifier& model, const torch::Tensor& x01, const Preprocessing& pre,
                                const std::vector<int64_t>& targets) const = 0;
  // Adds what explain.json should say of this map's own settings (nothing by default).
  virtual void describe(nlohmann::json& report, Classifier& model) const {
    (void)report;
    (void)model;
  }
};

// A registered map: its --cam name and how to make it.
struct SaliencyMapType {
  const char* name;
  std::unique_ptr<SaliencyMap> (*make)(const MapSettings& settings);
};
// Each explain/maps/*.cpp: const SaliencyMapRegistrar <name>_registrar(RANK, {"name", make}).
struct SaliencyMapRegistrar {
  SaliencyMapRegistrar(int rank, SaliencyMapType type);
};

// The registered names in rank order: {"gradcam", "gradxact", "occlusion", "rollout"}.
std::vector<std::string> saliency_map_names();
// InputError "--cam must be gradcam, gradxact, occlusion or rollout, not 'x'" unless `name`
// is registered.
void check_saliency_map(const std::string& name);
std::unique_ptr<SaliencyMap> make_saliency_map(const std::string& name, const MapSettings& settings);

}  // namespace osteofm
