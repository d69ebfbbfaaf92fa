#include "report/overlay.hpp"

#include <algorithm>

#include "core/error.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/imgproc.hpp>

#include "io/annotate.hpp"
#endif

namespace osteofm {

#if OSTEOFM_WITH_IMAGE_IO
void write_cam_overlay(const std::string& path, const CamOverlay& o, int min_side) {
  const int S = o.size;
  const int scale = std::max(1, (min_side + S - 1) / S), W = S * scale;
  cv::Mat gray(S, S, CV_32F, const_cast<float*>(o.gray.data())), cam(S, S, CV_32F, const_cast<float*>(o.cam.data()));
  cv::Mat mask(S, S, CV_8U, const_cast<uint8_t*>(o.mask.data()));
  cv::Mat g8, c8, heat, original, blended;
  gray.convertTo(g8, CV_8U, 255.0);
  cam.convertTo(c8, CV_8U, 255.0);
  cv::resize(g8, g8, cv::Size(W, W), 0, 0, cv::INTER_CUBIC);
  cv::resize(c8, c8, cv::Size(W, W), 0, 0, cv::INTER_LINEAR);
  cv::applyColorMap(c8, heat, cv::COLORMAP_JET);
  cv::cvtColor(g8, original, cv::COLOR_GRAY2BGR);
  cv::addWeighted(original, 0.6, heat, 0.4, 0.0, blended);
  const cv::Scalar white(255, 255, 255), cyan(255, 255, 0);
  const bool has_control = o.control_bits && cv::countNonZero((mask & o.control_bits) != 0) > 0;
  const bool has_bone = o.bone_bits && cv::countNonZero((mask & o.bone_bits) != 0) > 0;
  if (has_control) draw_region_contours(blended, mask, o.control_bits, cyan, scale);
  if (has_bone) draw_region_contours(blended, mask, o.bone_bits, white, scale);
  label_panel(original, "input");
  label_panel(blended, o.map_name);
  const cv::Mat panels = hstack_panels({original, blended, colour_bar(W, cv::COLORMAP_JET, o.map_name + " (min-max per image)")});
  std::vector<LegendEntry> legend;
  if (has_bone) legend.push_back({o.bone_label, white});
  if (has_control) legend.push_back({o.control_label, cyan});
  const std::string lead = "map: " + o.map_name + (has_bone || has_control ? "" : " (no region mask)");
  write_png_atomic(path, vstack_panels({caption_band(panels.cols, o.caption), panels, legend_band(panels.cols, legend, lead)}));
}
#else
void write_cam_overlay(const std::string& path, const CamOverlay&, int) {
  throw InputError(path + ": overlays need image I/O (this osteofm was built with OSTEOFM_WITH_IMAGE_IO=OFF)");
}
#endif

}  // namespace osteofm
