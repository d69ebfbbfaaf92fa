#include "train/dataset.hpp"

#include <atomic>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "io/image.hpp"
#include "models/embed.hpp"

namespace osteofm {

SplitData load_split(const Manifest& m, const std::string& split, const Preprocessing& pre, int threads) {
  SplitData d;
  d.split = split;
  std::vector<const ManifestRow*> rows;
  for (const auto& r : m.rows)
    if (r.split == split) rows.push_back(&r);
  for (const auto* r : rows) {
    if (r->label < 0) throw InputError(m.where(*r) + ": no usable t_score or label");
    d.image_id.push_back(r->image_id);
    d.patient_id.push_back(r->patient_id);
    d.labels.push_back(r->label);
    std::vector<std::string> extra;
    for (size_t c = 0; c < m.header.size(); ++c) {
      const auto& h = m.header[c];
      if (h != "image_id" && h != "patient_id" && h != "path" && h != "t_score" && h != "label" && h != "split" &&
          h != "mask")
        extra.push_back(r->fields[c]);
    }
    d.extra.push_back(extra);
  }
  d.images = torch::empty({static_cast<int64_t>(rows.size()), 1, pre.size, pre.size});
  parallel_for(rows.size(), threads, [&](size_t i, int) {
    try {
      d.images[static_cast<int64_t>(i)].copy_(resize_image(read_image(rows[i]->path), pre));
    } catch (const InputError& e) {
      throw InputError(m.where(*rows[i]) + ": " + e.what());
    }
  });
  return d;
}

torch::Tensor augment_batch(const torch::Tensor& x, const nlohmann::json& a) {
  if (!a.value("enabled", true)) return x;
  const int64_t B = x.size(0);
  const double pi = 3.14159265358979323846;
  auto uni = [&](double r) { return (torch::rand({B}, x.options()) * 2 - 1) * r; };
  auto angle = uni(a.value("rotate_deg", 5.0) * pi / 180.0);
  auto scale = 1 + uni(a.value("scale", 0.05));
  auto tx = uni(a.value("translate", 0.03) * 2), ty = uni(a.value("translate", 0.03) * 2);
  auto cos = torch::cos(angle) / scale, sin = torch::sin(angle) / scale;
  auto theta = torch::stack({torch::stack({cos, -sin, tx}, 1), torch::stack({sin, cos, ty}, 1)}, 1);  // [B,2,3]
  namespace F = torch::nn::functional;
  auto grid = F::affine_grid(theta, {B, 1, x.size(2), x.size(3)}, /*align_corners=*/false);
  auto y = F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
  if (a.value("hflip", false)) {
    auto flip = (torch::rand({B, 1, 1, 1}, x.options()) < 0.5).to(x.dtype());
    y = flip * y.flip({3}) + (1 - flip) * y;
  }
  auto v = [&](double r) { return uni(r).view({B, 1, 1, 1}); };
  y = y.clamp(0, 1).pow(torch::exp(v(a.value("gamma", 0.1))));
  y = (y - 0.5) * (1 + v(a.value("contrast", 0.1))) + 0.5 + v(a.value("brightness", 0.1));
  return y.clamp(0, 1);
}

}  // namespace osteofm
