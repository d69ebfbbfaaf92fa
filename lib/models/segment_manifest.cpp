#include "models/segment_manifest.hpp"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/file_names.hpp"
#include "core/hash.hpp"
#include "core/json_file.hpp"
#include "core/parallel.hpp"
#include "core/progress.hpp"
#include "core/runtime.hpp"
#include "data/cache_index.hpp"
#include "data/mask_qc.hpp"
#include "io/image.hpp"
#include "io/manifest.hpp"
#include "io/safetensors_torch.hpp"
#include "models/embed.hpp"
#include "models/segmenter.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr int kSegmentVersion = 1;
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// What the image file is now; a kept mask must have been made from this.
std::string source_key(const std::string& path) {
  const FileStamp s = file_stamp(path);
  if (!s.exists) return path + "|missing";
  return path + "|" + std::to_string(s.size) + "|" + std::to_string(s.mtime);
}

// The folder is new, empty, or holds masks of this very segmenter and spec.
void claim_output(const fs::path& dir, const std::string& key) {
  std::error_code ec;
  const fs::path record = dir / "segment.json";
  if (fs::exists(record, ec)) {
    const json old = parse_json_file(record.string());
    if (!old.is_object() || old.value("build_key", "") != key)
      throw InputError(dir.string() + ": holds masks of another segmenter or spec (segment.json differs); use another "
                       "--out or delete it");
  } else if (fs::exists(dir, ec) && (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec))) {
    throw InputError(dir.string() + ": exists and is not a 'data segment' folder; use an empty or new folder");
  }
}

MaskQcRow record_of(const SegmenterSpec& spec, const SegmentedImage& s) {
  MaskQcRow row;
  row.width = s.width;
  row.height = s.height;
  for (const auto& r : spec.table.regions) row.regions.push_back(mask_stats(s.mask.data(), s.width, s.height, r.bits));
  // Channels on their own only where QC compares them: the left and right of a structure.
  char side = 0;
  std::string key;
  for (size_t k = 0; k < spec.output_channels.size(); ++k)
    if (spec.output_channels[k] && !s.channel_on[k].empty() && side_of(*spec.output_channels[k], &side, &key))
      row.channels.push_back({*spec.output_channels[k], mask_stats(s.channel_on[k].data(), s.width, s.height, 1)});
  return row;
}

// segment.json (what made the masks: a rerun keeps them only for the same model and spec)
// and regions.json (the spec's region table, as every mask folder has one).
void write_segment_records(const fs::path& dir, const SegmentOptions& o, const std::string& spec_path,
                           const SegmenterSpec& spec, const std::string& key, const std::string& model_hash) {
  write_file_atomic((dir / "segment.json").string(),
                    json{{"format", "osteofm-segment/1"},
                         {"version", kSegmentVersion},
                         {"build_key", key},
                         {"model", fs::absolute(o.model).lexically_normal().string()},
                         {"model_fnv1a", model_hash},
                         {"spec", fs::absolute(spec_path).lexically_normal().string()},
                         {"spec_text", spec.text},
                         {"manifest", fs::absolute(o.manifest).lexically_normal().string()},
                         {"libtorch", torch_version()}}
                            .dump(2) + "\n");
  json bits = json::object(), controls = json::array(), bones = json::array();
  for (const auto& r : spec.table.regions) {
    bits[r.name] = r.bits;
    (r.bone ? bones : controls).push_back(r.name);
  }
  write_file_atomic((dir / "regions.json").string(),
                    json{{"bits", bits}, {"controls", controls}, {"bones", bones}}.dump(2) + "\n");
}

// One run of data segment over a manifest: what every chunk reads and fills in.
struct SegmentRun {
  const SegmentOptions& o;
  const SegmenterSpec& spec;
  Segmenter& segmenter;
  const Manifest& m;
  fs::path dir;
  size_t batch = 1;
  int threads = 1;
  std::vector<MaskQcRow> records;
  std::vector<std::string> stems, sources;  // sources: each image file as found now
  std::vector<size_t> todo;                 // rows without a mask of the image as it is now
  SegmentSummary& sum;
  ProgressBar& bar;
  size_t done = 0;
  std::mutex mu;

  fs::path mask_path(size_t i) const { return dir / "masks" / (stems[i] + ".png"); }
  fs::path record_path(size_t i) const { return dir / "qc" / (stems[i] + ".json"); }
  // Rows whose mask and record were made from the image as it is now are kept; the rest go
  // into `todo`.
  void keep_finished_rows();
  // Rows todo[b, b + count): decoded and preprocessed in parallel, the module in batches,
  // then each mask and its QC record written (the record last: a record means done).
  void segment_chunk(size_t b, size_t count);
};

void SegmentRun::keep_finished_rows() {
  std::error_code ec;
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const ManifestRow& r = m.rows[i];
    stems[i] = file_stem_for_id(r.image_id);
    const fs::path mask = mask_path(i), rec = record_path(i);
    sources[i] = source_key(r.path);
    if (fs::is_regular_file(mask, ec) && fs::is_regular_file(rec, ec)) {
      try {
        MaskQcRow old = parse_qc_row_json(read_file(rec.string()), spec.table, rec.string());
        if (old.status == "ok" && old.source_key == sources[i] && old.image_id == r.image_id &&
            old.mask == mask.string()) {
          records[i] = std::move(old);
          ++sum.kept;
          continue;
        }
      } catch (const InputError&) {
        // an unreadable record: the row is segmented again
      }
    }
    todo.push_back(i);
  }
}

void SegmentRun::segment_chunk(size_t b, size_t count) {
  std::vector<torch::Tensor> inputs(count);
  std::vector<std::string> errors(count);
  std::vector<int> widths(count), heights(count);
  auto t = Clock::now();
  parallel_for(count, threads, [&](size_t j, int) {
    const ManifestRow& r = m.rows[todo[b + j]];
    try {
      const GrayImage img = read_image(r.path);
      widths[j] = img.width;
      heights[j] = img.height;
      inputs[j] = segmenter.preprocess(img);
    } catch (const std::exception& e) {
      errors[j] = one_line(e.what());
    }
  });
  sum.decode_seconds += seconds_since(t);
  std::vector<torch::Tensor> good;
  std::vector<size_t> slot(count, 0);
  for (size_t j = 0; j < count; ++j)
    if (errors[j].empty()) {
      slot[j] = good.size();
      good.push_back(inputs[j]);
    }
  t = Clock::now();
  torch::Tensor logits;
  if (!good.empty()) {
    std::vector<torch::Tensor> parts;
    for (size_t g = 0; g < good.size(); g += batch)
      parts.push_back(segmenter.logits(
          torch::stack(std::vector<torch::Tensor>(good.begin() + static_cast<std::ptrdiff_t>(g),
                                                  good.begin() + static_cast<std::ptrdiff_t>(std::min(good.size(), g + batch))))));
    logits = parts.size() == 1 ? parts[0] : torch::cat(parts);
  }
  sum.model_seconds += seconds_since(t);
  t = Clock::now();
  parallel_for(count, threads, [&](size_t j, int) {
    const size_t i = todo[b + j];
    const ManifestRow& r = m.rows[i];
    const fs::path mask = mask_path(i), rec = record_path(i);
    MaskQcRow row;
    if (errors[j].empty()) {
      try {
        const SegmentedImage s = segmenter.masks(logits[static_cast<int64_t>(slot[j])], widths[j], heights[j]);
        row = record_of(spec, s);
        write_png_u8(mask.string(), s.width, s.height, s.mask);
        row.mask = mask.string();
        if (o.save_logits)
          save_safetensors((dir / "logits" / (stems[i] + ".safetensors")).string(),
                           {{"input", inputs[j]}, {"logits", logits[static_cast<int64_t>(slot[j])].clone()}}, {});
      } catch (const std::exception& e) {
        errors[j] = one_line(e.what());
      }
    }
    if (!errors[j].empty()) {
      row = MaskQcRow{};
      row.status = "failed";
      row.error = errors[j];
      std::error_code ec;
      fs::remove(mask, ec);  // a mask of the image as it was before must not stay behind
    }
    row.image_id = r.image_id;
    row.path = r.path;
    row.source_key = sources[i];
    write_file_atomic(rec.string(), qc_row_json(row, spec.table));  // after the mask: a record means done
    records[i] = std::move(row);
    std::lock_guard<std::mutex> lock(mu);
    bar.update(static_cast<long>(++done));
  });
  sum.post_seconds += seconds_since(t);
}

// The input manifest plus `mask` (relative to the output folder, where manifest.csv lives);
// every failed row named in the summary.
void write_masked_manifest(Manifest m, const MaskQcReport& report, const std::vector<std::string>& stems,
                           SegmentSummary& sum, const fs::path& dir) {
  int c_mask = -1;
  for (size_t c = 0; c < m.header.size(); ++c)
    if (m.header[c] == "mask") c_mask = static_cast<int>(c);
  if (c_mask < 0) {
    m.header.push_back("mask");
    c_mask = static_cast<int>(m.header.size()) - 1;
  }
  for (size_t i = 0; i < m.rows.size(); ++i) {
    ManifestRow& r = m.rows[i];
    const MaskQcRow& q = report.rows[i];
    r.fields.resize(m.header.size());
    r.mask = q.status == "ok" ? q.mask : "";
    r.fields[static_cast<size_t>(c_mask)] = q.status == "ok" ? "masks/" + stems[i] + ".png" : "";
    if (q.status != "ok") sum.failures.push_back(m.where(r) + ": image " + r.image_id + ": " + q.error);
  }
  sum.manifest_out = (dir / "manifest.csv").string();
  write_manifest(m, sum.manifest_out);
}

}  // namespace

SegmentSummary segment_manifest(const SegmentOptions& o) {
  const auto t0 = Clock::now();
  if (o.batch < 0 || o.batch > 1024) throw InputError("--batch must be 1..1024 (0: automatic), not " + std::to_string(o.batch));
  if (!image_io_available())
    throw InputError(o.manifest + ": 'data segment' decodes and resizes images, which this build cannot "
                     "(OSTEOFM_WITH_IMAGE_IO=OFF)");
  const std::string spec_path = o.spec.empty() ? default_spec_path(o.model) : o.spec;
  std::error_code ec;
  if (!fs::is_regular_file(spec_path, ec))
    throw InputError(spec_path + ": no segmenter spec here" +
                     (o.spec.empty() ? " (the default is the model's path with .json; give --spec FILE)" : ""));
  const SegmenterSpec spec = parse_segmenter_spec(read_file(spec_path), spec_path);
  if (is_tensor_cache(o.manifest))
    throw InputError(o.manifest + ": a tensor cache holds resized images; segment the manifest the cache was made from");
  // Paths are not probed here: a missing or undecodable image fails its row, not the run.
  Manifest m = read_manifest(o.manifest);
  for (const auto& p : m.problems)
    if (p.error) throw InputError(p.message + (m.error_count() > 1 ? " (see 'osteofm data check')" : ""));
  if (m.rows.empty()) throw InputError(o.manifest + ": no rows to segment");

  const torch::Device device = resolve_device(o.device);
  Segmenter segmenter(o.model, spec, device);  // checks the module before anything is written
  const std::string model_hash = hex64(fnv1a(read_file(o.model)));  // a PSPNet is ~260 MB: read once
  const std::string key = hex64(fnv1a(model_hash + "|" + spec.text + "|v" + std::to_string(kSegmentVersion)));
  const fs::path dir = fs::absolute(o.out).lexically_normal();
  claim_output(dir, key);
  fs::create_directories(dir / "masks");
  fs::create_directories(dir / "qc");
  if (o.save_logits) fs::create_directories(dir / "logits");
  write_segment_records(dir, o, spec_path, spec, key, model_hash);

  SegmentSummary sum;
  sum.out = dir.string();
  const size_t n = m.rows.size();
  sum.images = n;
  ProgressBar bar("segment " + dir.filename().string(), static_cast<long>(n));
  SegmentRun run{o, spec, segmenter, m, dir, 1, resolve_threads(o.threads), std::vector<MaskQcRow>(n),
                 std::vector<std::string>(n), std::vector<std::string>(n), {}, sum, bar, 0, {}};
  run.batch = static_cast<size_t>(o.batch > 0 ? o.batch : device.is_cuda() ? 8 : 1);
  run.keep_finished_rows();
  run.done = sum.kept;
  if (run.done) bar.update(static_cast<long>(run.done), "kept " + std::to_string(run.done));
  // Chunks of at least one image per thread: decoding and the masks run in parallel over a
  // chunk, the module over it in batches of `batch`.
  const size_t chunk = std::max(run.batch, static_cast<size_t>(run.threads));
  for (size_t b = 0; b < run.todo.size(); b += chunk) {
    throw_if_interrupted();  // finished rows are kept
    run.segment_chunk(b, std::min(chunk, run.todo.size() - b));
  }

  auto t = Clock::now();
  MaskQcOptions qc;
  qc.may_touch_border = spec.may_touch_border;
  const MaskQcReport report = assess_masks(std::move(run.records), spec.table, qc);
  write_file_atomic((dir / "qc.csv").string(), qc_csv(report, spec.table));
  write_file_atomic((dir / "qc.json").string(), qc_json(report, spec.table));
  write_masked_manifest(std::move(m), report, run.stems, sum, dir);
  sum.failed = report.failed;
  sum.flagged = report.flagged;
  sum.segmented = n - sum.kept - report.failed;
  if (o.pictures)
    sum.pictures =
        write_mask_pictures(report, spec.table, dir.string(), fs::path(o.model).filename().string(), run.threads);
  sum.qc_seconds = seconds_since(t);
  sum.seconds = seconds_since(t0);
  bar.finish(std::to_string(n - report.failed) + " masks, " + std::to_string(report.flagged) + " flagged, " +
             std::to_string(report.failed) + " failed");
  return sum;
}

}  // namespace osteofm
