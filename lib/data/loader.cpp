#include "data/loader.hpp"

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <limits>
#include <mutex>
#include <thread>

#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/parallel.hpp"
#include "data/tensor_cache.hpp"
#include "data/transforms.hpp"
#include "io/image.hpp"

namespace osteofm {

// An epoch's batches decoded ahead on a thread of its own. It reads its own copy of the
// split (the paths and ids; images and caches are shared, not copied): the owner may then be
// moved, assigned or destroyed at any point of the epoch. Reading the owner's members, the
// producer read a vector that a move had emptied (a SegFault now and then).
class BatchPrefetcher {
 public:
  BatchPrefetcher(const SplitData& d, std::vector<int64_t> order, int64_t batch, int depth)
      : data_(d), order_(std::move(order)), batch_(batch), depth_(std::max(1, depth)) {
    batches_ = (static_cast<int64_t>(order_.size()) + batch_ - 1) / batch_;
    producer_ = std::thread([this] { run(); });
  }
  ~BatchPrefetcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    producer_.join();
  }
  torch::Tensor next() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !ready_.empty() || failure_ || consumed_ >= batches_; });
    if (failure_) std::rethrow_exception(failure_);
    if (ready_.empty()) throw RuntimeFailure("loader: no batch left in this epoch");
    torch::Tensor t = ready_.front();
    ready_.pop_front();
    ++consumed_;
    cv_.notify_all();
    return t;
  }

 private:
  void run() {
    for (int64_t k = 0; k < batches_; ++k) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || static_cast<int>(ready_.size()) < depth_; });
        if (stop_) return;
      }
      try {
        const int64_t b = k * batch_, e = std::min<int64_t>(b + batch_, order_.size());
        torch::Tensor t = data_.take(std::vector<int64_t>(order_.begin() + b, order_.begin() + e));
        std::lock_guard<std::mutex> lock(mu_);
        ready_.push_back(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        failure_ = std::current_exception();
        cv_.notify_all();
        return;
      }
      cv_.notify_all();
    }
  }
  const SplitData data_;
  std::vector<int64_t> order_;
  int64_t batch_, batches_ = 0, consumed_ = 0;
  int depth_;
  std::deque<torch::Tensor> ready_;
  std::exception_ptr failure_;
  bool stop_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread producer_;
};

torch::Tensor SplitData::take(const std::vector<int64_t>& rows) const {
  if (images.defined()) return images.index_select(0, torch::tensor(rows, torch::kInt64));
  if (cache) {
    std::vector<torch::Tensor> parts;
    for (int64_t r : rows) parts.push_back(cache->image(cache_row[r]));
    if (parts.empty()) return torch::empty({0, 1, pre.size, pre.size});
    const auto x = torch::stack(parts);
    return x.size(-1) == pre.size ? x : fit_cached_images(x.to(resize_device), pre.size);
  }
  // Each worker makes its own tensor; the caller's thread stacks them (the caller may be
  // in inference mode, which is per thread, and its tensors cannot be written from others).
  std::vector<torch::Tensor> parts(rows.size());
  parallel_for(rows.size(), threads, [&](size_t i, int) {
    const int64_t r = rows[i];
    try {
      const GrayImage image = read_image(path[r]);
      source_size->set(static_cast<size_t>(r), labels.size(), image.width, image.height);
      parts[i] = resize_image(image, pre);
    } catch (const InputError& e) {
      throw InputError(where[r] + ": " + e.what());
    }
  });
  if (parts.empty()) return torch::empty({0, 1, pre.size, pre.size});
  return torch::stack(parts);
}

torch::Tensor SplitData::take_masks(const std::vector<int64_t>& rows) const {
  std::vector<torch::Tensor> parts(rows.size());
  parallel_for(rows.size(), cache ? 1 : threads, [&](size_t i, int) {
    const int64_t r = rows[i];
    if (mask_path[r].empty()) return;  // filled with zeros below, in the others' geometry
    if (cache) {
      parts[i] = cache->mask(cache_row[r]);
      return;
    }
    try {
      int w = 0, h = 0;
      const auto m = read_png_u8(mask_path[r], &w, &h);
      // Resized to the model's size, a mask of another size would still "fit": refuse it.
      const std::array<int, 2> image = source_size->get(static_cast<size_t>(r));
      if (image[0] > 0 && (image[0] != w || image[1] != h))
        throw InputError("mask " + mask_path[r] + " is " + std::to_string(w) + "x" + std::to_string(h) + ", its image " +
                         std::to_string(image[0]) + "x" + std::to_string(image[1]));
      parts[i] = resize_mask(m.data(), h, w, pre);
    } catch (const InputError& e) {
      throw InputError(where[r] + ": " + e.what());
    }
  });
  if (parts.empty()) return torch::empty({0, pre.size, pre.size}, torch::kUInt8);
  std::vector<int64_t> shape = {pre.size, pre.size};
  for (const auto& p : parts)
    if (p.defined()) shape = p.sizes().vec();
  for (auto& p : parts)
    if (!p.defined()) p = torch::zeros(shape, torch::kUInt8);
  auto out = torch::stack(parts);
  return cache ? fit_cached_masks(out, pre.size) : out;
}

torch::Tensor SplitData::range(int64_t begin, int64_t end) const {
  if (images.defined()) return images.slice(0, begin, end);
  std::vector<int64_t> rows;
  for (int64_t i = begin; i < end; ++i) rows.push_back(i);
  return take(rows);
}

void SplitData::begin_epoch(const std::vector<int64_t>& order, int64_t batch, int depth) {
  prefetcher.running.reset();  // joins the previous epoch's producer
  prefetcher.running = std::make_shared<BatchPrefetcher>(*this, order, batch, depth);
}

torch::Tensor SplitData::next_batch() {
  if (!prefetcher.running) throw RuntimeFailure("loader: next_batch() before begin_epoch()");
  return prefetcher.running->next();
}

std::string cache_geometry_problem(const Preprocessing& cache, const Preprocessing& model) {
  auto fit = [](const Preprocessing& p) {
    return p.squash ? std::string("squash") : "short side " + format_double(p.crop_fraction) + " crop (" + p.crop_offset + ")";
  };
  if (!cache.same_field_of_view(model))
    return "the cache was made with " + fit(cache) + ", the model takes " + fit(model) +
           ": another field of view; make a cache with the model's geometry (osteofm data cache --preset, " +
           "--crop-fraction, --fit)";
  if (cache.size < model.size)
    return "the cache holds " + std::to_string(cache.size) + " px images, the model takes " + std::to_string(model.size) +
           " px: upsampling a cache loses the detail the model expects; make a cache of at least " +
           std::to_string(model.size) + " px";
  return "";
}

SplitData load_split(const Manifest& m, const std::string& split, const Preprocessing& pre, int threads,
                     const std::string& preload, bool need_labels) {
  SplitData d;
  d.split = split;
  d.pre = pre;
  d.threads = std::max(1, threads);
  if (!m.cache_dir.empty()) {
    d.cache = TensorCache::open(m.cache_dir);
    const std::string problem = cache_geometry_problem(d.cache->geometry(), pre);
    if (!problem.empty()) throw InputError(m.cache_dir + ": " + problem);
    if (d.cache->size() > pre.size)
      log_info("data", log_text(m.cache_dir, " holds ", d.cache->size(),
                                " px images of the same field of view; the model takes ", pre.size,
                                " px: resized from the cache"));
  }
  for (const auto& r : m.rows) {
    if (!split.empty() && r.split != split) continue;
    if (r.label < 0 && need_labels) throw InputError(m.where(r) + ": no usable t_score or label");
    d.image_id.push_back(r.image_id);
    d.patient_id.push_back(r.patient_id);
    d.path.push_back(r.path);
    d.where.push_back(m.where(r));
    d.labels.push_back(r.label);
    d.t_scores.push_back(r.t_score ? *r.t_score : std::numeric_limits<double>::quiet_NaN());
    d.extra.push_back(m.passthrough_fields(r));
    d.mask_path.push_back(d.cache ? (r.cache_has_mask ? "cache" : "") : r.mask);
    d.cache_row.push_back(r.cache_row);
  }
  const double bytes = 4.0 * pre.size * pre.size * d.size();
  if (preload != "auto" && preload != "yes" && preload != "no")
    throw InputError("data.preload must be auto, yes or no, not '" + preload + "'");
  if (preload == "yes" || (preload == "auto" && bytes <= 2.0 * (1ull << 30))) d.images = d.range(0, d.size());
  return d;
}

torch::Tensor augment_batch(const torch::Tensor& x, const AugmentSettings& a) {
  if (!a.enabled) return x;
  const int64_t B = x.size(0);
  const double pi = 3.14159265358979323846;
  auto uni = [&](double r) { return (torch::rand({B}, x.options()) * 2 - 1) * r; };
  auto angle = uni(a.rotate_deg * pi / 180.0);
  auto scale = 1 + uni(a.scale);
  auto tx = uni(a.translate * 2), ty = uni(a.translate * 2);
  auto cos = torch::cos(angle) / scale, sin = torch::sin(angle) / scale;
  auto theta = torch::stack({torch::stack({cos, -sin, tx}, 1), torch::stack({sin, cos, ty}, 1)}, 1);  // [B,2,3]
  namespace F = torch::nn::functional;
  auto grid = F::affine_grid(theta, {B, 1, x.size(2), x.size(3)}, /*align_corners=*/false);
  auto y = F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
  if (a.hflip) {
    auto flip = (torch::rand({B, 1, 1, 1}, x.options()) < 0.5).to(x.dtype());
    y = flip * y.flip({3}) + (1 - flip) * y;
  }
  auto v = [&](double r) { return uni(r).view({B, 1, 1, 1}); };
  y = y.clamp(0, 1).pow(torch::exp(v(a.gamma)));
  y = (y - 0.5) * (1 + v(a.contrast)) + 0.5 + v(a.brightness);
  return y.clamp(0, 1);
}

}  // namespace osteofm
