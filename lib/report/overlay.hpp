// Grad-CAM overlays: the radiograph in grey, the CAM as a JET heat map blended over it,
// bone contours in white and control-region contours (lungs) in cyan, upscaled for reading.
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
};

// PNG, atomically. InputError naming the path in builds without image I/O.
void write_cam_overlay(const std::string& path, const CamOverlay& overlay, int min_side = 448);

}  // namespace osteofm
