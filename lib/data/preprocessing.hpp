// How a radiograph becomes a model input: the geometry and normalisation each backbone
// family's published processor applies, as timm's pretrained config carries it. A plain
// value type: backbone adapters (models/) carry one per preset, runs record the one they
// trained with (RUN/preprocessing.json), and the transforms and loaders (data/) apply it.
#pragma once
#include <array>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace osteofm {

struct Preprocessing {
  int size = 224;              // input resolution fed to the model (the crop's side)
  bool squash = false;         // true: resize to size x size ignoring aspect; false: short side + centre crop
  // Crop mode: the short side is resized to floor(size / crop_fraction) (timm's
  // scale_size), then a size x size centre crop is taken. DINOv2's processor: 224 / 0.875
  // = 256 -> crop 224. 1 = the crop is the whole short side.
  double crop_fraction = 1.0;
  // Where the centre crop starts when the margin is odd: "floor" ((d) // 2, HF
  // image_transforms.center_crop) or "round" (round-half-even of d / 2, torchvision's
  // CenterCrop, which open_clip uses).
  std::string crop_offset = "floor";
  std::array<double, 3> mean{0.485, 0.456, 0.406}, std{0.229, 0.224, 0.225};

  // The short side before the crop (crop mode), or size (squash).
  int resize_size() const;
  // The resized (height, width) of a height x width image: squash -> (size, size); crop ->
  // short side resize_size(), long side int(resize_size() * long / short) (truncated, as
  // HF's get_resize_output_image_size and torchvision's Resize compute it).
  std::array<int, 2> resized_shape(int height, int width) const;
  // The first row (or column) of the centre crop of `size` out of `extent`.
  int crop_start(int extent) const;
  // The same field of view at any size: the same fit and, for crops, the same crop
  // fraction and offset.
  bool same_field_of_view(const Preprocessing& other) const;
  // What cache keys (tensor cache, frozen features) add for the crop: "" for squash and for
  // the whole short side with floor offsets (so keys made before crop fractions existed
  // stay valid), else "r<resize_size><offset>".
  std::string crop_key() const;
};

// {"size", "resize", "fit": crop|squash, "crop_fraction", "crop_offset", "interpolation":
// "bicubic", "antialias": true, "mean", "std"}: RUN/preprocessing.json.
nlohmann::json preprocessing_to_json(const Preprocessing& p);
// Reads what preprocessing_to_json wrote; InputError naming `source` and the key.
Preprocessing preprocessing_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace osteofm
