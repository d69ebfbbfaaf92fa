#include "explain/overlay_set.hpp"

#include <sstream>

#include <torch/torch.h>

#include "core/atomic_file.hpp"
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
  const fs::path dir = out_dir / "overlays", list = dir / ".written-by-osteofm";
  std::error_code ec;
  // A link there would send the deletions below, and the new files, somewhere else.
  if (fs::is_symlink(dir, ec)) {
    w.skipped = dir.string() + " is a symbolic link: no overlay written, nothing removed there";
    return w;
  }
  // The overlays of an earlier run, as it listed them: only those are removed (a PNG put
  // there by anyone else stays).
  if (fs::is_regular_file(list, ec)) {
    std::istringstream names(read_file(list.string()));
    for (std::string name; std::getline(names, name);)
      if (!name.empty() && name.find('/') == std::string::npos && name != "." && name != ".." &&
          !fs::is_symlink(dir / name, ec))
        fs::remove(dir / name, ec);
    fs::remove(list, ec);
  }
  if (overlays_.empty()) return w;
  try {
    fs::create_directories(dir);
    std::string written;
    for (const auto& [name, o] : overlays_) {
      written += name + "\n";
      write_file_atomic(list.string(), written);  // before the file: a kill leaves nothing unlisted
      write_cam_overlay((dir / name).string(), o);
      w.files.push_back("overlays/" + name);
    }
  } catch (const InputError& e) {
    w.skipped = e.what();
  }
  return w;
}

}  // namespace osteofm
