#include "explain/overlay_set.hpp"

#include <torch/torch.h>

#include "core/error.hpp"
#include "core/labels.hpp"

namespace osteofm {
namespace fs = std::filesystem;

OverlaySet::OverlaySet(int per_class, const RegionTable& table, std::string map_title) : map_title_(std::move(map_title)) {
  for (int c = 0; c < kNumClasses; ++c) left_[c] = per_class;
  bone_bits_ = table.bone_bits();
  for (const auto& r : table.controls()) {
    control_bits_ |= r.bits;
    control_names_ += (control_names_.empty() ? "" : ", ") + r.name;
  }
}

bool OverlaySet::wants(int label) const {
  const auto it = left_.find(label);
  return it != left_.end() && it->second > 0;
}

void OverlaySet::add(int label, const std::string& file_name, const torch::Tensor& gray, const torch::Tensor& cam,
                     const torch::Tensor& mask, std::string caption) {
  --left_[label];
  CamOverlay o;
  const int64_t S = gray.size(-1);
  o.size = static_cast<int>(S);
  const auto g = gray.to(torch::kCPU).contiguous();
  o.gray.assign(g.data_ptr<float>(), g.data_ptr<float>() + S * S);
  const auto c = cam.to(torch::kCPU).contiguous();
  o.cam.assign(c.data_ptr<float>(), c.data_ptr<float>() + S * S);
  const auto m = mask.contiguous();
  o.mask.assign(m.data_ptr<uint8_t>(), m.data_ptr<uint8_t>() + S * S);
  o.bone_bits = bone_bits_;
  o.control_bits = control_bits_;
  o.map_name = map_title_;
  o.bone_label = "bones (white)";
  o.control_label = control_names_ + " (cyan, control)";
  o.caption = std::move(caption);
  overlays_.emplace_back(file_name, std::move(o));
}

OverlaySet::Written OverlaySet::write(const fs::path& out_dir) const {
  Written w;
  {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(out_dir / "overlays", ec))
      if (e.path().extension() == ".png") fs::remove(e.path(), ec);
  }
  if (overlays_.empty()) return w;
  try {
    fs::create_directories(out_dir / "overlays");
    for (const auto& [name, o] : overlays_) {
      write_cam_overlay((out_dir / "overlays" / name).string(), o);
      w.files.push_back("overlays/" + name);
    }
  } catch (const InputError& e) {
    w.skipped = e.what();
  }
  return w;
}

}  // namespace osteofm
