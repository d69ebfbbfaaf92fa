#include "data/tensor_cache.hpp"
#include "core/json_file.hpp"
#include "core/resample.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/hash.hpp"
#include "core/parallel.hpp"
#include "core/progress.hpp"
#include "io/image.hpp"
#include "io/manifest.hpp"
#include "data/transforms.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr int kCacheVersion = 1;

std::string shard_name(size_t k) {
  char b[40];
  std::snprintf(b, sizeof b, "shard-%05zu.safetensors", k);
  return b;
}

struct ShardRecord {
  std::vector<std::string> status;
  std::vector<int> width, height, has_mask;
};

// The shard's record when it exists and belongs to this build, else nothing.
bool read_shard_record(const std::string& path, const std::string& key, size_t rows, ShardRecord* out) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  try {
    auto f = SafetensorsFile::open(path);
    const auto& meta = f->header().metadata;
    auto it = meta.find("build_key");
    if (it == meta.end() || it->second != key) return false;
    const json rec = json::parse(meta.at("rows"));
    if (rec.at("status").size() != rows) return false;
    out->status = rec.at("status").get<std::vector<std::string>>();
    out->width = rec.at("width").get<std::vector<int>>();
    out->height = rec.at("height").get<std::vector<int>>();
    out->has_mask = rec.at("has_mask").get<std::vector<int>>();
    return true;
  } catch (const std::exception&) {
    return false;  // unreadable: rebuilt
  }
}
}  // namespace

CacheSummary build_tensor_cache(const std::string& manifest_path, const std::string& out_dir, const CacheOptions& opt) {
  if (!image_io_available())
    throw InputError(manifest_path + ": 'data cache' decodes images, which this build cannot (OSTEOFM_WITH_IMAGE_IO=OFF); "
                     "build the cache with a full osteofm and copy the folder here");
  return build_tensor_cache_with(manifest_path, out_dir, opt, [](const ManifestRow& r, const Preprocessing& geometry) {
    CachedRow out;
    const GrayImage img = read_image(r.path);
    out.orig_width = img.width;
    out.orig_height = img.height;
    const auto x = resize_image(img, geometry);  // already on the 16-bit grid
    const auto q = torch::round(x * 65535.0).to(torch::kInt32).contiguous();
    out.image.assign(q.data_ptr<int32_t>(), q.data_ptr<int32_t>() + q.numel());
    if (!r.mask.empty()) {
      int w = 0, h = 0;
      const auto mask = read_png_u8(r.mask, &w, &h);
      if (w != img.width || h != img.height)
        throw InputError("mask " + r.mask + " is " + std::to_string(w) + "x" + std::to_string(h) + ", image is " +
                         std::to_string(img.width) + "x" + std::to_string(img.height));
      const auto mt = resize_mask(mask.data(), h, w, geometry);
      out.mask.assign(mt.data_ptr<uint8_t>(), mt.data_ptr<uint8_t>() + mt.numel());
    }
    return out;
  });
}

CacheSummary build_tensor_cache_with(const std::string& manifest_path, const std::string& out_dir,
                                     const CacheOptions& opt, const RowDecoder& decoder) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.size < 8 || opt.size > 4096) throw InputError("--size must be between 8 and 4096, not " + std::to_string(opt.size));
  if (opt.fit != "crop" && opt.fit != "squash") throw InputError("--fit must be crop or squash, not '" + opt.fit + "'");
  if (!(opt.shard_mb > 0)) throw InputError("--shard-mb must be positive");
  if (!(opt.crop_fraction > 0 && opt.crop_fraction <= 1))
    throw InputError("--crop-fraction must be in (0, 1], not " + format_double(opt.crop_fraction));
  if (opt.crop_offset != "floor" && opt.crop_offset != "round")
    throw InputError("--crop-offset must be floor or round, not '" + opt.crop_offset + "'");
  if (is_tensor_cache(manifest_path)) throw InputError(manifest_path + ": is already a tensor cache");
  Manifest m = load_manifest(manifest_path);
  for (const auto& p : m.problems)
    if (p.error) throw InputError(p.message + (m.error_count() > 1 ? " (and " + std::to_string(m.error_count() - 1) + " more problems; see 'osteofm data check')" : ""));
  if (m.rows.empty()) throw InputError(manifest_path + ": no rows to cache");

  const int S = opt.size;
  const size_t pixels = static_cast<size_t>(S) * S;
  const size_t per_shard = std::max<size_t>(1, static_cast<size_t>(opt.shard_mb * 1e6 / (3.0 * pixels)));
  const Preprocessing geometry = cache_geometry(opt);
  const std::string crop = geometry.crop_key();
  const std::string key = hex64(fnv1a(read_file(manifest_path) + "|" + std::to_string(S) + "|" + opt.fit +
                                      (crop.empty() ? "" : "|" + crop) + "|" +
                                      std::to_string(per_shard) + "|v" + std::to_string(kCacheVersion)));
  fs::create_directories(out_dir);
  remove_stale_temporaries(out_dir);  // a killed build's half-written shards or index
  const fs::path dir(out_dir);
  const json build = {{"format", "osteofm-tensor-cache"}, {"version", kCacheVersion}, {"build_key", key},
                      {"manifest", fs::absolute(manifest_path).lexically_normal().string()}, {"size", S},
                      {"fit", opt.fit}, {"crop_fraction", opt.crop_fraction}, {"crop_offset", opt.crop_offset},
                      {"resize", geometry.resize_size()}, {"rows_per_shard", per_shard}};
  std::error_code ec;
  if (fs::exists(dir / "build.json", ec)) {
    json old = parse_json_file((dir / "build.json").string());
    if (!old.is_object() || old.value("build_key", "") != key)
      throw InputError(out_dir + ": holds a cache of another manifest or other options (build.json differs); "
                       "use another --out or delete it");
  } else if (!fs::is_empty(dir, ec)) {
    throw InputError(out_dir + ": exists and is not a tensor cache; use an empty or new folder");
  }
  write_file_atomic((dir / "build.json").string(), build.dump(2) + "\n");

  const int threads = resolve_threads(opt.threads);
  const size_t n = m.rows.size(), shards = (n + per_shard - 1) / per_shard;
  CacheSummary sum;
  sum.dir = out_dir;
  sum.images = n;
  sum.shards = shards;
  std::vector<ShardRecord> records(shards);
  ProgressBar bar("cache " + fs::path(out_dir).filename().string(), static_cast<long>(n));
  size_t done = 0;
  for (size_t k = 0; k < shards; ++k) {
    throw_if_interrupted();  // finished shards are kept and reused by the next run
    const size_t first = k * per_shard, count = std::min(per_shard, n - first);
    const std::string path = (dir / shard_name(k)).string();
    ShardRecord& rec = records[k];
    std::vector<uint16_t> images(count * pixels, 0);
    std::vector<uint8_t> masks(count * pixels, 0);
    std::vector<size_t> todo;  // rows of this shard to decode
    if (read_shard_record(path, key, count, &rec)) {
      for (size_t i = 0; i < count; ++i)
        if (rec.status[i] != "ok") todo.push_back(i);
      if (todo.empty()) {
        sum.reused += count;
        done += count;
        bar.update(static_cast<long>(done), "reused " + shard_name(k));
        continue;
      }
      // Rows that failed last time are retried (their file may have been fixed since);
      // the good rows are kept as they are.
      auto f = SafetensorsFile::open(path);
      std::memcpy(images.data(), f->data(f->at("images")), images.size() * sizeof(uint16_t));
      std::memcpy(masks.data(), f->data(f->at("masks")), masks.size());
      sum.reused += count - todo.size();
      done += count - todo.size();
    } else {
      rec.status.assign(count, "ok");
      rec.width.assign(count, 0);
      rec.height.assign(count, 0);
      rec.has_mask.assign(count, 0);
      for (size_t i = 0; i < count; ++i) todo.push_back(i);
    }
    std::mutex mu;
    parallel_for(todo.size(), threads, [&](size_t t, int) {
      const size_t i = todo[t];
      const ManifestRow& r = m.rows[first + i];
      try {
        CachedRow c = decoder(r, geometry);
        if (c.status != "ok") throw InputError(c.status);
        if (c.image.size() != pixels || (!c.mask.empty() && c.mask.size() != pixels))
          throw RuntimeFailure("decoder returned " + std::to_string(c.image.size()) + " pixels, expected " +
                               std::to_string(pixels));
        rec.status[i] = "ok";
        rec.width[i] = c.orig_width;
        rec.height[i] = c.orig_height;
        std::copy(c.image.begin(), c.image.end(), images.begin() + i * pixels);
        std::fill(masks.begin() + i * pixels, masks.begin() + (i + 1) * pixels, uint8_t{0});
        rec.has_mask[i] = 0;
        if (!c.mask.empty()) {
          std::copy(c.mask.begin(), c.mask.end(), masks.begin() + i * pixels);
          rec.has_mask[i] = 1;
        }
      } catch (const std::exception& e) {
        std::fill(images.begin() + i * pixels, images.begin() + (i + 1) * pixels, uint16_t{0});
        std::fill(masks.begin() + i * pixels, masks.begin() + (i + 1) * pixels, uint8_t{0});
        rec.status[i] = one_line(e.what());
        rec.has_mask[i] = 0;
      }
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      bar.update(static_cast<long>(done));
    });
    SafetensorsWriter w;
    const std::vector<int64_t> shape = {static_cast<int64_t>(count), S, S};
    w.add("images", DType::U16, shape, images.data(), images.size() * sizeof(uint16_t));
    w.add("masks", DType::U8, shape, masks.data(), masks.size());
    w.set_metadata("build_key", key);
    w.set_metadata("first_row", std::to_string(first));
    w.set_metadata("rows", json{{"status", rec.status}, {"width", rec.width}, {"height", rec.height},
                                {"has_mask", rec.has_mask}}.dump());
    w.write(path);
    sum.decoded += todo.size();
  }

  // The index: a manifest of the cached rows (absolute source paths), with the cache's columns.
  std::vector<std::string> header = {"image_id", "patient_id", "path", "t_score", "label", "split", "mask"};
  const auto extra = m.passthrough_columns();
  header.insert(header.end(), extra.begin(), extra.end());
  for (const char* c : {"cache_row", "cache_status", "cache_has_mask", "cache_orig_width", "cache_orig_height"})
    header.push_back(c);
  std::string index = csv_line(header);
  for (size_t i = 0; i < n; ++i) {
    const ManifestRow& r = m.rows[i];
    const ShardRecord& rec = records[i / per_shard];
    const size_t j = i % per_shard;
    std::vector<std::string> f = {r.image_id, r.patient_id, fs::absolute(r.path).lexically_normal().string(),
                                  r.t_score ? format_double(*r.t_score) : "", r.label >= 0 ? std::to_string(r.label) : "",
                                  r.split, r.mask.empty() ? "" : fs::absolute(r.mask).lexically_normal().string()};
    const auto pass = m.passthrough_fields(r);
    f.insert(f.end(), pass.begin(), pass.end());
    f.push_back(std::to_string(i));
    f.push_back(rec.status[j]);
    f.push_back(std::to_string(rec.has_mask[j]));
    f.push_back(std::to_string(rec.width[j]));
    f.push_back(std::to_string(rec.height[j]));
    index += csv_line(f);
    if (rec.status[j] != "ok") sum.failures.push_back(m.where(r) + ": " + rec.status[j]);
  }
  sum.failed = sum.failures.size();
  write_file_atomic((dir / "index.csv").string(), index);
  const fs::path regions = fs::path(m.dir) / "regions.json";
  if (fs::is_regular_file(regions, ec)) write_file_atomic((dir / "regions.json").string(), read_file(regions.string()));
  json shard_list = json::array();
  for (size_t k = 0; k < shards; ++k) shard_list.push_back(shard_name(k));
  json info = build;
  info["images"] = n;
  info["failed"] = sum.failed;
  info["shards"] = shard_list;
  info["pixel_format"] = "images: U16, value = round(x * 65535) of the [0,1] radiograph; masks: U8 region bits";
  write_file_atomic((dir / "cache.json").string(), info.dump(2) + "\n");
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bar.finish(std::to_string(n) + " images, " + std::to_string(sum.failed) + " failed");
  return sum;
}

std::shared_ptr<const TensorCache> TensorCache::open(const std::string& path) {
  const std::string dir = tensor_cache_dir(path);
  const std::string info_path = (fs::path(dir) / "cache.json").string();
  const json info = parse_json_file(info_path);
  if (!info.is_object() || info.value("format", "") != "osteofm-tensor-cache")
    throw InputError(info_path + ": not an osteofm tensor cache");
  if (info.value("version", 0) != kCacheVersion)
    throw InputError(info_path + ": cache version " + std::to_string(info.value("version", 0)) + ", this osteofm reads " +
                     std::to_string(kCacheVersion));
  auto c = std::shared_ptr<TensorCache>(new TensorCache());
  c->dir_ = dir;
  CacheOptions stored;
  stored.size = info.at("size").get<int>();
  stored.fit = info.at("fit").get<std::string>();
  // Caches older than crop fractions cropped the whole short side.
  stored.crop_fraction = info.value("crop_fraction", 1.0);
  stored.crop_offset = info.value("crop_offset", std::string("floor"));
  c->geometry_ = cache_geometry(stored);
  c->rows_ = info.at("images").get<int64_t>();
  c->rows_per_shard_ = info.at("rows_per_shard").get<int64_t>();
  for (const auto& name : info.at("shards")) {
    const std::string p = (fs::path(dir) / name.get<std::string>()).string();
    auto f = SafetensorsFile::open(p);
    const auto& im = f->at("images");
    const auto& mk = f->at("masks");
    if (im.dtype != DType::U16 || mk.dtype != DType::U8 || im.shape.size() != 3 || im.shape != mk.shape ||
        im.shape[1] != c->size() || im.shape[2] != c->size())
      throw InputError(p + ": tensor 'images' must be U16 and 'masks' U8, both [n, " + std::to_string(c->size()) + ", " +
                       std::to_string(c->size()) + "]");
    const int64_t expected = std::min(c->rows_per_shard_, c->rows_ - c->rows_per_shard_ * static_cast<int64_t>(c->shards_.size()));
    if (im.shape[0] != expected)
      throw InputError(p + ": tensor 'images' holds " + std::to_string(im.shape[0]) + " rows, cache.json implies " +
                       std::to_string(expected));
    c->shards_.push_back(f);
  }
  if (static_cast<int64_t>(c->shards_.size()) * c->rows_per_shard_ < c->rows_)
    throw InputError(info_path + ": lists too few shards for " + std::to_string(c->rows_) + " images");
  return c;
}

const uint8_t* TensorCache::pixels(int64_t row, const char* tensor, size_t bpp) const {
  if (row < 0 || row >= rows_)
    throw InputError(dir_ + ": cache row " + std::to_string(row) + " out of range (" + std::to_string(rows_) + " rows)");
  const auto& f = shards_[static_cast<size_t>(row / rows_per_shard_)];
  const auto& e = f->at(tensor);
  return f->data(e) + static_cast<size_t>(row % rows_per_shard_) * size() * size() * bpp;
}

torch::Tensor TensorCache::image(int64_t row) const {
  const auto* p = reinterpret_cast<const uint16_t*>(pixels(row, "images", 2));
  auto out = torch::empty({1, size(), size()}, torch::kFloat32);
  float* o = out.data_ptr<float>();
  for (int64_t i = 0, n = int64_t(size()) * size(); i < n; ++i) {
    uint16_t v;
    std::memcpy(&v, p + i, sizeof v);
    o[i] = static_cast<float>(v);
  }
  // The same float operation as quantize16(): value / 65535.
  return out / 65535.0;
}

torch::Tensor TensorCache::mask(int64_t row) const {
  const uint8_t* p = pixels(row, "masks", 1);
  return torch::from_blob(const_cast<uint8_t*>(p), {size(), size()}, torch::kUInt8).clone();
}

Preprocessing cache_geometry(const CacheOptions& o) {
  Preprocessing g;
  g.size = o.size;
  g.squash = o.fit == "squash";
  g.crop_fraction = o.crop_fraction;
  g.crop_offset = o.crop_offset;
  return g;
}

void set_cache_geometry(CacheOptions& o, const Preprocessing& g) {
  o.size = g.size;
  o.fit = g.squash ? "squash" : "crop";
  o.crop_fraction = g.crop_fraction;
  o.crop_offset = g.crop_offset;
}

torch::Tensor fit_cached_images(const torch::Tensor& images, int size) {
  if (images.size(-1) == size && images.size(-2) == size) return images;
  return resize_bicubic_aa(images, size, size).clamp(0.0, 1.0);
}

torch::Tensor fit_cached_masks(const torch::Tensor& masks, int size) {
  if (masks.size(-1) == size && masks.size(-2) == size) return masks;
  auto x = masks.to(torch::kFloat32).unsqueeze(1);
  return resize_nearest_exact(x, size, size).squeeze(1).to(torch::kUInt8);
}

}  // namespace osteofm
