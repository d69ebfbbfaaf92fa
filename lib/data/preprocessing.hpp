// How a radiograph becomes a model input: the geometry and normalisation each backbone
// family's published processor applies. A plain value type: backbone adapters (models/)
// carry one per preset, and the transforms and loaders (data/) apply it.
#pragma once
#include <array>

namespace osteofm {

struct Preprocessing {
  int size = 224;          // input resolution fed to the model
  bool squash = false;     // true: resize to size x size ignoring aspect; false: short side + centre crop
  std::array<double, 3> mean{0.485, 0.456, 0.406}, std{0.229, 0.224, 0.225};
};

}  // namespace osteofm
