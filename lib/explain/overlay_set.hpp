// The overlays of `osteofm explain`: the first images of each true class, drawn as the
// radiograph with its map's heat, bone contours (white) and control contours (cyan), and
// written to OUT/overlays/ with the report.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "data/regions.hpp"
#include "report/overlay.hpp"

namespace osteofm {

class OverlaySet {
 public:
  // `per_class` overlays at most of each class; `map_title` names the map in the legend.
  OverlaySet(int per_class, const RegionTable& table, std::string map_title);
  bool wants(int label) const;
  // One image: `gray` and `cam` [S,S] float, `mask` [S,S] uint8 region bits.
  void add(int label, const std::string& file_name, const torch::Tensor& gray, const torch::Tensor& cam,
           const torch::Tensor& mask, std::string caption);

  struct Written {
    nlohmann::json files = nlohmann::json::array();  // "overlays/<name>.png", in order
    std::string skipped;                             // why none were written (a build without image I/O)
  };
  // Removes OUT/overlays/*.png of an earlier run (other images, another map), then writes these.
  Written write(const std::filesystem::path& out_dir) const;

 private:
  std::map<int, int> left_;
  uint8_t bone_bits_ = 0, control_bits_ = 0;
  std::string control_names_, map_title_;
  std::vector<std::pair<std::string, CamOverlay>> overlays_;
};

}  // namespace osteofm
