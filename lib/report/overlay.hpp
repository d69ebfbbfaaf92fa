// Explanation overlays, one PNG per image: a caption (image, classes, score), the radiograph
// as it entered the model beside the same radiograph with the map as a JET heat map blended
// over it, bone contours in white and control-region contours (lungs, marker) in cyan, a
// colour bar for the map, and a legend naming the map and the contours; upscaled for reading.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace osteofm {

struct CamOverlay {
  int size = 0;                // square side of image, cam and mask
  std::vector<float> gray;     // [0,1]
  std::vector<float> cam;      // [0,1]
  std::vector<uint8_t> mask;   // region bits
  uint8_t bone_bits = 0, control_bits = 0;
  std::string caption;         // drawn at the top
  std::string map_name = "Grad-CAM";               // which map this is (legend, colour bar)
  std::string bone_label = "bones", control_label = "controls";  // legend entries
};

// PNG, atomically. InputError naming the path in builds without image I/O.
void write_cam_overlay(const std::string& path, const CamOverlay& overlay, int min_side = 448);

}  // namespace osteofm
