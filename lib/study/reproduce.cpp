#include "study/reproduce.hpp"

#include <array>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/json_file.hpp"
#include "core/layout.hpp"
#include "core/log.hpp"
#include "core/parallel.hpp"
#include "core/provenance.hpp"
#include "core/sha256.hpp"
#include "data/cache_index.hpp"
#include "data/dataset_check.hpp"
#include "data/loader.hpp"
#include "data/split.hpp"
#include "data/tensor_cache.hpp"
#include "eval/compare.hpp"
#include "eval/predictions.hpp"
#include "explain/explain.hpp"
#include "explain/saliency_map.hpp"
#include "sweep/executor.hpp"
#include "models/checkpoint.hpp"
#include "models/segment_manifest.hpp"
#include "models/segmenter.hpp"
#include "report/roc_report.hpp"
#include "report/study_report.hpp"
#include "report/table.hpp"
#include "train/config.hpp"
#include "train/run_folder.hpp"
#include "train/run_model.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

json paper_study_config() {
  // configs/sweeps/paper.json, read into the build by lib/CMakeLists.txt.
  static const char* const text =
#include "study/paper_study.inc"
      ;
  return json::parse(text);
}

namespace {
const char* const kStages[] = {"prepare", "sweep", "report"};

// The study with every path absolute: each backbone's weights under `weights_dir` (relative
// ones; "random" and "" stay), its arch against `study_dir`.
json resolve_study_paths(json study, const std::string& study_dir, const std::string& weights_dir) {
  if (!study.is_object() || !study.contains("backbones") || !study["backbones"].is_object())
    throw InputError("study: 'backbones' must be an object");
  for (auto b = study["backbones"].begin(); b != study["backbones"].end(); ++b) {
    json& entry = b.value();
    if (!entry.is_object()) continue;  // expand_sweep names it
    const std::string weights = entry.value("weights", "");
    if (!weights.empty() && !is_random_weights(weights) && fs::path(weights).is_relative()) {
      if (weights_dir.empty())
        throw InputError("backbones." + b.key() + " needs its checkpoint '" + weights + "': give --weights-dir DIR");
      entry["weights"] = fs::absolute(fs::path(weights_dir) / weights).lexically_normal().string();
    }
    const std::string arch = entry.value("arch", "");
    if (!arch.empty() && fs::path(arch).is_relative())
      entry["arch"] = fs::absolute(fs::path(study_dir) / arch).lexically_normal().string();
  }
  return study;
}

// What the study's backbones need: per backbone entry, the input geometries of its
// variants' grid points, and the problems (missing or unloadable checkpoints, bad sizes).
struct StudyBackbones {
  std::map<std::string, std::vector<Preprocessing>> geometries;
  std::vector<std::string> problems;  // "<backbone>: <why>"
};

// Loads each backbone's checkpoint once (one in memory at a time) and resolves every grid
// point's geometry with it. The study's paths are absolute (resolve_study_paths).
StudyBackbones inspect_backbones(const json& study, const std::string& manifest) {
  json probe = study;
  probe["base"]["data"]["manifest"] = manifest;
  const std::vector<Variant> variants = expand_sweep_json(probe, "study", "/");
  std::vector<std::string> names;  // expand_sweep's order: backbone-major
  for (auto b = study["backbones"].begin(); b != study["backbones"].end(); ++b) names.push_back(b.key());
  const size_t per_backbone = study["strategies"].size();
  StudyBackbones out;
  std::optional<Backbone> backbone;
  for (size_t i = 0; i < variants.size(); ++i) {
    const std::string& name = names[i / per_backbone];
    if (i % per_backbone == 0) {
      backbone.reset();
    } else if (!backbone) {
      continue;  // its checkpoint failed
    }
    try {
      if (!backbone) {
        const std::string source = "study (" + variants[i].name + ")";
        const BackboneSettings bc =
            typed_run_config(resolve_train_config_json(variants[i].config, {}, source, ""), source).backbone;
        if (!bc.weights.empty() && !is_random_weights(bc.weights) && !fs::exists(bc.weights))
          throw InputError(bc.weights + ": no such checkpoint");
        backbone = load_backbone(
            {bc.preset, bc.arch, backbone_weights(bc.preset, bc.weights, "backbones." + name + ".weights"), bc.seed});
      }
      auto& list = out.geometries[name];
      for (const auto& point : variants[i].grid) {
        const json c = resolve_train_config_json(with_values(variants[i].config, point.values), {}, "study", "");
        const Preprocessing g = configured_preprocessing(*backbone, typed_run_config(c, "study").backbone);
        bool known = false;
        for (const auto& h : list) known = known || (h.size == g.size && h.same_field_of_view(g));
        if (!known) list.push_back(g);
      }
    } catch (const InputError& e) {
      out.problems.push_back(name + ": " + e.what());
      out.geometries.erase(name);
      backbone.reset();
    }
  }
  return out;
}

// A folder name for a geometry: "224-crop-r256floor", "448-squash", "112-crop".
std::string geometry_name(const Preprocessing& g) {
  std::string name = std::to_string(g.size) + (g.squash ? "-squash" : "-crop");
  const std::string crop = g.squash ? "" : g.crop_key();
  return crop.empty() ? name : name + "-" + crop;
}


// OUT/reproduce.json: what the study is (cohort, checkpoints, sweep config, split, explain
// replicates) and which stages are done. Written atomically after every change.
struct StudyState {
  fs::path file;
  json j;
  void save() const { write_file_atomic(file.string(), j.dump(2) + "\n"); }
  bool done(const std::string& stage) const { return j["stages"].value(stage, json::object()).value("state", "") == "done"; }
  void mark(const std::string& stage, const std::string& state) {
    j["stages"][stage] = {{"state", state}, {"at", utc_timestamp()}};
    save();
  }
};

// A study config (`file`, or the paper's when empty) with its paths resolved.
json load_study(const std::string& file, const std::string& weights_dir) {
  if (file.empty()) return resolve_study_paths(paper_study_config(), fs::current_path().string(), weights_dir);
  const json study = parse_json_file(file);
  if (study.is_discarded()) throw InputError(file + ": not valid JSON");
  if (study.is_object()) study_explain_maps(study, file, saliency_map_names());  // before anything trains
  return resolve_study_paths(study, fs::absolute(file).parent_path().string(), weights_dir);
}

// SHA-256 of what the study is made from: the manifest, each backbone's checkpoint file (a
// sharded one: its index), the segmenter and its spec. Recorded when the study starts and
// compared at every resume, so that a cohort or checkpoint changed between a kill and a
// rerun is not mixed into runs made from the old one.
// The images of the manifest, by content: SHA-256 of each file, reused from OUT/.image_hashes.csv
// while its size and modification time are unchanged (as git's index does), so a resume
// reads again only what was touched. Returns the digest over (path, sha256) of every image;
// `stamps` receives the new stamps file's text (written by the caller once the study accepts
// the images, so the file always describes the recorded images), `changed` the images whose
// content differs from that file's (or that are gone).
std::string image_content_digest(const std::string& manifest, const fs::path& out, size_t* count,
                                 std::vector<std::string>* changed, std::string* stamps_text) {
  const fs::path stamps = out / ".image_hashes.csv";
  std::map<std::string, std::array<std::string, 3>> before;  // path -> size, mtime, sha256
  if (fs::is_regular_file(stamps)) {
    try {
      for (const auto& r : parse_csv(read_file(stamps.string()), stamps.string()).records)
        if (r.fields.size() == 4) before[r.fields[0]] = {r.fields[1], r.fields[2], r.fields[3]};
    } catch (const InputError&) {
    }
  }
  std::set<std::string> paths;
  for (const auto& r : read_manifest(manifest).rows) paths.insert(fs::absolute(r.path).lexically_normal().string());
  std::string table = csv_line({"path", "size", "mtime", "sha256"}), digest_text;
  for (const auto& path : paths) {
    const FileStamp st = file_stamp(path);
    const auto it = before.find(path);
    std::string sha = "missing";
    if (st.exists) {
      const std::string size = std::to_string(st.size), mtime = std::to_string(st.mtime);
      sha = it != before.end() && it->second[0] == size && it->second[1] == mtime ? it->second[2] : sha256_file(path);
      table += csv_line({path, size, mtime, sha});
    }
    if (changed && it != before.end() && it->second[2] != sha) changed->push_back(path);
    digest_text += path + "\t" + sha + "\n";
  }
  *stamps_text = table;
  *count = paths.size();
  return sha256_hex(digest_text);
}

// The stamps of the images the study was started (or last resumed) with.
void save_image_stamps(const fs::path& out, const std::string& stamps_text) {
  if (stamps_text.empty()) return;
  fs::create_directories(out);
  write_file_atomic((out / ".image_hashes.csv").string(), stamps_text);
}

json input_hashes(const json& record, const fs::path& out, std::vector<std::string>* changed_images,
                  std::string* stamps_text) {
  json h = json::object();
  auto add = [&](const std::string& role, const std::string& path) {
    if (path.empty() || is_random_weights(path) || !fs::is_regular_file(path)) return;
    h[role] = {{"path", path}, {"sha256", provenance_of_file({role, path}).value("sha256", "")}};
  };
  add("manifest", record.value("manifest", ""));
  const std::string manifest = record.value("manifest", "");
  if (fs::is_regular_file(manifest) && !is_tensor_cache(manifest)) {  // a cache's pixels are in the cache
    size_t n = 0;
    const std::string digest = image_content_digest(manifest, out, &n, changed_images, stamps_text);
    h["images"] = {{"path", "the " + std::to_string(n) + " images of " + manifest}, {"sha256", digest}};
  }
  for (const auto& [name, entry] : record["study"]["backbones"].items())
    if (entry.is_object()) add("weights:" + name, entry.value("weights", ""));
  if (record.value("segmenter", json()).is_object()) {
    add("segmenter", record["segmenter"].value("model", ""));
    add("segmenter_spec", record["segmenter"].value("spec", ""));
  }
  return h;
}

// InputError naming every input whose content changed since the study started.
void check_input_hashes(const json& recorded, const json& now, const std::string& out,
                        const std::vector<std::string>& changed_images) {
  std::string changed;
  for (size_t i = 0; i < changed_images.size() && i < 3; ++i)
    changed += (changed.empty() ? "" : "; ") + changed_images[i] + " changed or is gone";
  if (changed_images.size() > 3) changed += "; and " + std::to_string(changed_images.size() - 3) + " more images";
  for (const auto& [role, r] : recorded.items()) {
    const std::string path = r.value("path", "");
    if (!now.contains(role)) {
      changed += (changed.empty() ? "" : "; ") + path + " (" + role + ") is gone";
    } else if (now[role].value("sha256", "") != r.value("sha256", "")) {
      changed += (changed.empty() ? "" : "; ") + path + " (" + role + ") changed: sha256 " +
                 r.value("sha256", "").substr(0, 12) + "... then, " + now[role].value("sha256", "").substr(0, 12) + "... now";
    }
  }
  if (!changed.empty())
    throw InputError(out + ": the study's inputs changed since it started (" + changed +
                     "); its splits, caches and runs were made from the old ones: restore them, or give another --out "
                     "for a new study");
}

// The recorded study, or a new one from the options. A new one's checkpoints are loaded
// first (nothing is written when one is missing or of the wrong family), and the input
// geometries found with them are recorded for the prepare stage.
StudyState open_study(const ReproduceOptions& o) {
  StudyState s;
  s.file = fs::path(o.out) / layout::kReproduceRecord;
  const std::string manifest = o.manifest.empty() ? "" : fs::absolute(o.manifest).lexically_normal().string();
  const std::string weights_dir = o.weights_dir.empty() ? "" : fs::absolute(o.weights_dir).lexically_normal().string();
  if (fs::exists(s.file)) {
    s.j = parse_json_file(s.file.string());
    if (s.j.is_discarded() || !s.j.is_object() || !s.j.contains("study") || !s.j.contains("geometries"))
      throw InputError(s.file.string() + ": not a study record of osteofm reproduce");
    const std::string recorded_weights = s.j.value("weights_dir", "");
    if (!manifest.empty() && manifest != s.j.value("manifest", ""))
      throw InputError(o.out + " holds the study of " + s.j.value("manifest", "") + ", not " + manifest +
                       "; give another --out (or leave --manifest out to resume)");
    if (!weights_dir.empty() && weights_dir != recorded_weights)
      throw InputError(o.out + " was started with --weights-dir " + recorded_weights +
                       "; give another --out (or leave --weights-dir out to resume)");
    const json recorded_segmenter = s.j.value("segmenter", json());
    if (!o.segmenter.empty() && (!recorded_segmenter.is_object() ||
                                 fs::absolute(o.segmenter).lexically_normal().string() != recorded_segmenter.value("model", "")))
      throw InputError(o.out + " was started " +
                       (recorded_segmenter.is_object() ? "with --segmenter " + recorded_segmenter.value("model", "")
                                                       : std::string("without --segmenter")) +
                       "; give another --out (or leave --segmenter out to resume)");
    if (!o.study.empty() && load_study(o.study, recorded_weights) != s.j["study"])
      throw InputError(o.out + " was started with another study config than " + o.study +
                       "; give another --out (or leave --study out to resume)");
    std::vector<std::string> changed_images;
    std::string stamps;
    const json now = input_hashes(s.j, o.out, &changed_images, &stamps);
    if (s.j.value("input_hashes", json()).is_object()) {
      json recorded = s.j["input_hashes"];
      if (!recorded.contains("images") && now.contains("images")) {  // a study from before images were hashed
        s.j["input_hashes"]["images"] = now["images"];
        s.save();
        recorded = s.j["input_hashes"];
      }
      // Images are named only when their digest differs from the recorded one.
      const bool images_differ = recorded.contains("images") && now.contains("images") &&
                                 recorded["images"].value("sha256", "") != now["images"].value("sha256", "");
      check_input_hashes(recorded, now, o.out, images_differ ? changed_images : std::vector<std::string>{});
      save_image_stamps(o.out, stamps);
    } else {
      s.j["input_hashes"] = now;  // a study from before hashes were kept: from now on
      s.save();
      save_image_stamps(o.out, stamps);
    }
    return s;
  }
  if (manifest.empty()) throw InputError("reproduce: --manifest is required (" + o.out + " holds no study yet)");
  if (!fs::exists(manifest)) throw InputError(manifest + ": no such manifest or tensor cache");
  if (!weights_dir.empty() && !fs::is_directory(weights_dir)) throw InputError(o.weights_dir + ": no such folder (--weights-dir)");
  // What the record keeps is checked before it is written: a bad value there would fail
  // every resume.
  const SplitRatios ratios = parse_split_ratios(o.split_ratios, "--split-ratios");
  // The study selects grid points, epochs and thresholds on validation and reports on test:
  // an empty share of either leaves a study that cannot be run.
  if (ratios.train <= 0 || ratios.val <= 0 || ratios.test <= 0)
    throw InputError("--split-ratios '" + o.split_ratios +
                     "': the study needs train, validation and test images; give each a share above 0");
  if (o.bootstrap < 1) throw InputError("--bootstrap must be at least 1, not " + std::to_string(o.bootstrap));
  json segmenter = nullptr;
  if (!o.segmenter.empty()) {
    // Checked now (the spec parsed, the module loaded and dry-run): a bad one would fail
    // the prepare stage after the checkpoints were loaded.
    if (is_tensor_cache(manifest))
      throw InputError(manifest + ": a tensor cache holds resized images; --segmenter needs the manifest of the radiographs");
    const std::string spec = o.segmenter_spec.empty() ? default_spec_path(o.segmenter) : o.segmenter_spec;
    if (!fs::is_regular_file(spec)) throw InputError(spec + ": no segmenter spec here (give --segmenter-spec FILE)");
    Segmenter probe(o.segmenter, parse_segmenter_spec(read_file(spec), spec), torch::Device(torch::kCPU));
    segmenter = {{"model", fs::absolute(o.segmenter).lexically_normal().string()},
                 {"spec", fs::absolute(spec).lexically_normal().string()}};
  } else if (!o.segmenter_spec.empty()) {
    throw InputError("--segmenter-spec needs --segmenter");
  }
  const json study = load_study(o.study, weights_dir);
  const StudyBackbones backbones = inspect_backbones(study, manifest);
  if (!backbones.problems.empty()) {
    for (const auto& p : backbones.problems) log_warning("reproduce", p);
    throw InputError((weights_dir.empty() ? std::string("the study") : weights_dir) + ": " +
                     std::to_string(backbones.problems.size()) + " backbone(s) cannot start (listed above); nothing was run");
  }
  json geometries = json::object();
  for (const auto& [name, list] : backbones.geometries)
    for (const auto& g : list) geometries[name].push_back(preprocessing_to_json(g));
  fs::create_directories(o.out);
  s.j = {{"manifest", manifest},
         {"weights_dir", weights_dir},
         {"study", study},
         {"geometries", geometries},
         {"split", {{"seed", o.split_seed}, {"ratios", o.split_ratios}}},
         {"bootstrap", o.bootstrap},
         {"keep_non_chest", o.keep_non_chest},
         {"segmenter", segmenter},
         {"stages", json::object()}};
  std::string stamps;
  s.j["input_hashes"] = input_hashes(s.j, o.out, nullptr, &stamps);
  save_image_stamps(o.out, stamps);
  s.save();
  return s;
}

// prepare: check, split, caches, OUT/study.json.
// Decodes every image of `m` once; rows that cannot be decoded, and rows that are no frontal
// chest radiograph (unless `keep_non_chest`), go to DATA/excluded.csv with the reason, the
// rest to DATA/included.csv, whose path is returned ("" when nothing is left out).
std::string exclude_unusable_images(Manifest& m, bool keep_non_chest, const fs::path& data) {
  log_info("reproduce", log_text("decoding every image of ", m.path, " (data check --decode) ..."));
  Manifest checked = m;
  check_dataset(checked, true, resolve_threads(0));
  std::map<int, std::string> reason;  // row -> why it is left out
  for (const auto& p : checked.problems) {
    const bool undecodable = p.error && p.kind == "unreadable_file";  // (a tensor cache never comes here)
    const bool not_chest = p.kind == "not_chest_radiograph" && !keep_non_chest;
    if ((undecodable || not_chest) && p.row > 0 && !reason.count(p.row))
      reason[p.row] = (undecodable ? "undecodable: " : "not a frontal chest radiograph: ") + p.message;
  }
  // What only the pixels reveal on a kept row (a near copy in two splits, a mask of another
  // size than its film) stops the study.
  size_t errors = 0;
  for (const auto& p : checked.problems)
    if (p.error && p.row > 0 && !reason.count(p.row)) {
      log_warning("data check", p.message);
      ++errors;
    }
  if (errors > 0)
    throw InputError(m.path + ": unusable cohort, " + std::to_string(errors) + " errors found by decoding (listed above)");
  if (reason.empty()) return "";
  std::string excluded = csv_line({"image_id", "patient_id", "path", "reason"});
  Manifest kept = m;
  kept.rows.clear();
  for (const auto& r : m.rows) {
    auto it = reason.find(r.row);
    if (it == reason.end()) kept.rows.push_back(r);
    else excluded += csv_line({r.image_id, r.patient_id, r.path, it->second});
  }
  write_file_atomic((data / "excluded.csv").string(), excluded);
  const std::string included = (data / "included.csv").string();
  write_manifest(kept, included);
  log_info("reproduce",
           log_text(reason.size(), " of ", m.rows.size(), " images left out (", (data / "excluded.csv").string(),
                    (keep_non_chest ? "" : "; --keep-non-chest keeps the readable ones"), ")"));
  return included;
}

void prepare_stage(StudyState& s, const fs::path& out_dir) {
  // study.json lives in OUT, but its paths are absolute: read from anywhere, they mean one thing.
  const fs::path out = fs::absolute(out_dir);
  const std::string source = s.j["manifest"];
  const fs::path data = out / "data";
  fs::create_directories(data);
  // 1. A patient-level split when the manifest has none.
  std::string cohort = source;
  Manifest m = load_manifest(source);
  bool has_split = false;
  for (const auto& r : m.rows) has_split = has_split || !r.split.empty();
  if (!has_split) {
    if (is_tensor_cache(source))
      throw InputError(source + ": this tensor cache has no split; split the manifest ('osteofm data split') and cache it again");
    std::vector<std::string> duplicates;
    split_manifest(m, parse_split_ratios(s.j["split"]["ratios"], "--split-ratios"), s.j["split"]["seed"].get<uint64_t>(),
                   &duplicates);
    for (const auto& d : duplicates) log_warning("", log_text(source, ": ", d));
    cohort = (data / "cohort.csv").string();
    write_manifest(m, cohort);
    m = load_manifest(cohort);
    log_info("reproduce",
             log_text("no split in ", source, ": patient-level split ", s.j["split"]["ratios"].get<std::string>(),
                      " (seed ", s.j["split"]["seed"], ") in ", cohort));
  }
  // 2. Bone masks from the segmenter when the cohort has none (resumable: data segment
  // keeps the rows it finished).
  const json seg = s.j.value("segmenter", json());
  if (seg.is_object()) {
    bool has_masks = false;
    for (const auto& r : m.rows) has_masks = has_masks || !r.mask.empty();
    if (has_masks) {
      log_info("reproduce", log_text(cohort, " has masks; --segmenter is not used"));
      s.j["segmentation"] = {{"used", false}, {"reason", "the cohort's manifest has masks"}};
    } else {
      SegmentOptions so;
      so.manifest = cohort;
      so.model = seg["model"];
      so.spec = seg["spec"];
      so.out = (data / "segment").string();
      log_info("reproduce", log_text("bone masks from ", so.model, " in ", so.out, " ..."));
      const SegmentSummary r = segment_manifest(so);
      for (const auto& f : r.failures) log_warning("segment", f);
      log_info("reproduce", log_text("  ", (r.images - r.failed), " of ", r.images, " images masked, ", r.flagged,
                                     " flagged (", so.out, "/qc.csv, contact_sheet.png)"));
      cohort = r.manifest_out;
      m = load_manifest(cohort);
      s.j["segmentation"] = {{"used", true},     {"model", so.model},         {"spec", so.spec},
                             {"out", so.out},    {"images", r.images},        {"failed", r.failed},
                             {"flagged", r.flagged}, {"pictures", r.pictures}};
    }
    s.save();
  }
  // 3. The data check, every image decoded: what cannot be decoded, and (unless the study
  // keeps them) what is no frontal chest radiograph, is left out, listed and counted; any
  // other error (leakage, a duplicate across splits, a bad mask) stops the study.
  if (!is_tensor_cache(cohort)) {
    const std::string left_out = exclude_unusable_images(m, s.j.value("keep_non_chest", false), data);
    if (!left_out.empty()) {
      cohort = left_out;
      m = load_manifest(cohort);
    }
  }
  DatasetReport report = check_dataset(m, false, resolve_threads(0));
  write_file_atomic((data / "check.json").string(), report_json(report).dump(2) + "\n");
  log_info("data check", report_text(report));
  if (!report.usable())
    throw InputError(cohort + ": unusable cohort, " + std::to_string(report.errors) + " errors (listed above and in " +
                     (data / "check.json").string() + ")");
  // 4. One tensor cache per field of view, at the largest size its variants take (the
  // geometries the up-front checkpoint check found).
  json study = s.j["study"];
  study["base"]["data"]["manifest"] = cohort;
  std::map<std::string, std::vector<Preprocessing>> geometries;
  for (const auto& [name, list] : s.j["geometries"].items())
    for (const auto& g : list) geometries[name].push_back(preprocessing_from_json(g, s.file.string()));
  std::map<std::string, std::string> cache_of_backbone;
  if (is_tensor_cache(cohort)) {
    const auto cache = TensorCache::open(cohort);
    for (const auto& [name, list] : geometries)
      for (const auto& g : list) {
        const std::string why = cache_geometry_problem(cache->geometry(), g);
        if (!why.empty()) throw InputError(cohort + ": cannot feed backbone " + name + ": " + why);
      }
  } else {
    for (const auto& [name, list] : geometries) {
      Preprocessing widest = list.front();
      bool one_view = true;
      for (const auto& g : list) {
        one_view = one_view && g.same_field_of_view(widest);
        if (g.size > widest.size) widest.size = g.size;
      }
      if (!one_view) {
        log_info("reproduce", log_text(name, ": its grid varies the field of view; it reads the images, no cache"));
        continue;
      }
      const fs::path dir = out / "caches" / geometry_name(widest);
      if (!fs::exists(dir / "cache.json")) {
        CacheOptions co;
        set_cache_geometry(co, widest);
        co.threads = resolve_threads(0);
        log_info("reproduce", log_text("tensor cache ", dir.string(), " (", name, ") ..."));
        const CacheSummary c = build_tensor_cache(cohort, dir.string(), co);
        log_info("reproduce", log_text("  ", c.images, " images (", c.failed,
                                       " could not be decoded and are left out) in ", c.seconds, " s"));
        for (const auto& f : c.failures) log_warning("", f);
      }
      cache_of_backbone[name] = dir.string();
    }
  }
  for (const auto& [name, dir] : cache_of_backbone) study["backbones"][name]["data"]["manifest"] = dir;
  write_file_atomic((out / layout::kStudyRecord).string(), study.dump(2) + "\n");
}

// SWEEP/masks_qc.md: where the bone masks came from and what their QC found, beside the
// table whose explainability columns rest on them.
void write_masks_summary(const StudyState& s, const fs::path& sweep) {
  const json seg = s.j.value("segmentation", json());
  if (!seg.is_object() || !seg.value("used", false)) return;
  const fs::path dir = seg["out"].get<std::string>();
  const json qc = parse_json_file((dir / "qc.json").string());
  if (!qc.is_object()) return;
  std::string md = "# Bone masks\n\nMade by `osteofm data segment` with `" + seg["model"].get<std::string>() + "` (spec `" +
                   seg["spec"].get<std::string>() + "`): " + std::to_string(qc.value("segmented", 0)) + " of " +
                   std::to_string(qc.value("images", 0)) + " images masked, " + std::to_string(qc.value("failed", 0)) +
                   " failed, " + std::to_string(qc.value("flagged", 0)) + " flagged for a look.\n\n";
  md += "| region | bone | median area | images empty | area outliers | at the border |\n|---|---|---|---|---|---|\n";
  for (const auto& [name, r] : qc["regions"].items()) {
    char area[32];
    std::snprintf(area, sizeof area, "%.4f", r.value("median_area", 0.0));
    md += "| " + name + " | " + (r.value("bone", false) ? "yes" : "no (control)") + " | " + area + " | " +
          std::to_string(r.value("empty", 0)) + " | " + std::to_string(r.value("area_outliers", 0)) + " | " +
          std::to_string(r.value("touching_border", 0)) + " |\n";
  }
  md += "\nFlags per kind:";
  for (const auto& [kind, n] : qc["flag_counts"].items()) md += " " + kind + " " + std::to_string(n.get<int>()) + ";";
  md += "\n\nPer image: `" + (dir / "qc.csv").string() + "`. Look at the masks before trusting Δbone and IoU_bone:\n\n";
  for (const auto& p : seg.value("pictures", json::array()))
    if (p.get<std::string>().find("contact_sheet") != std::string::npos) md += "![contact sheet](" + p.get<std::string>() + ")\n";
  write_file_atomic((sweep / "masks_qc.md").string(), md);
}

// report: explain every selected variant, compare, the table and the ROC figure.
void report_stage(const StudyState& s, const fs::path& out, const std::string& device) {
  const fs::path sweep = out / layout::kStudySweepDir;
  ExplainOptions eo;
  eo.bootstrap.replicates = s.j.value("bootstrap", 2000);
  eo.overlays_per_class = 2;
  eo.device = device;
  eo.quiet_fill_warnings = true;  // one line for the study below, not one per fill and variant
  size_t explained = 0, below = 0;
  const std::string study_file = (out / layout::kStudyRecord).string();
  const std::vector<std::string> maps = study_explain_maps(read_json_file(study_file), study_file, saliency_map_names());
  eo.cam = maps.front();
  for (const auto& v : expand_sweep(study_file)) {
    const fs::path run = sweep / v.name;
    if (!fs::exists(run / layout::kMetricsTest)) continue;
    // The figures 'osteofm eval --run' draws: per-class ROC, reliability and decision curves.
    // Done means the record written after the last figure, not the first figure's file: a
    // kill between two figures left the rest undrawn for good.
    const fs::path figures_done = run / layout::kMetricsTestFigures;
    if (!fs::exists(figures_done) && fs::exists(run / layout::kPredictionsTest)) {
      const auto files = write_eval_figures(read_predictions((run / layout::kPredictionsTest).string()),
                                            read_json_file((run / layout::kMetricsTest).string()),
                                            v.name + ", test split", (run / "metrics_test").string());
      json names = json::array();
      for (const auto& f : files) names.push_back(fs::path(f).filename().string());
      write_file_atomic(figures_done.string(), json{{"figures", names}, {"at", utc_timestamp()}}.dump(2) + "\n");
    }
    const fs::path explained_file = run / layout::kExplainDir / layout::kExplainRecord;
    if (!fs::exists(explained_file)) {
      log_info("reproduce", log_text("explain ", v.name, " ..."));
      explain_run(run.string(), (run / layout::kExplainDir).string(), eo);
    }
    // Every other seed of the variant, on the first map: the table's explainability columns
    // are then seed means (their replicates.csv share the resamples).
    for (const auto& seed_run : finished_seed_runs(sweep, v.name)) {
      if (fs::exists(seed_run / layout::kExplainDir / layout::kExplainRecord)) continue;
      log_info("reproduce", log_text("explain ", v.name, " ", seed_run.filename().string(), " ..."));
      explain_run(seed_run.string(), (seed_run / layout::kExplainDir).string(), eo);
    }
    // The other maps: their IoU_bone and deletion curves. Δbone occludes regions, whatever
    // the map, so one fill there and no area control or mask sensitivity (RUN/explain has them).
    for (size_t k = 1; k < maps.size(); ++k) {
      const fs::path folder = run / ("explain-" + maps[k]);
      if (fs::exists(folder / layout::kExplainRecord)) continue;
      log_info("reproduce", log_text("explain ", v.name, " on ", maps[k], " maps ..."));
      ExplainOptions other = eo;
      other.cam = maps[k];
      other.fills = {eo.fills.front()};
      other.area_draws = 0;
      other.mask_sensitivity = 0;
      explain_run(run.string(), folder.string(), other);
    }
    // Fills that drive a model below chance: expected for weak models (the demo's), said
    // once for the study below.
    ++explained;
    const json ex = parse_json_file(explained_file.string());
    bool any = false;
    if (ex.is_object() && ex.contains("delta_bone") && ex["delta_bone"].contains("fills"))
      for (const auto& [fill, fj] : ex["delta_bone"]["fills"].items())
        any = any || !fj.value("auc_below_0.5", json::array()).empty();
    below += any;
  }
  if (below > 0)
    log_info(
        "reproduce",
        log_text("explain: in ", below, " of ", explained,
                 " variants an occlusion fill drives the macro AUC below 0.5 (the model reads the fill; common for "
                 "models near chance): each explain.json lists them under auc_below_0.5, the table marks them with a "
                 "dagger"));
  write_masks_summary(s, sweep);
  const SweepTable table = collect_sweep(sweep.string());
  write_file_atomic((sweep / layout::kTableMarkdown).string(), format_table(table, "md"));
  write_file_atomic((sweep / layout::kTableCsv).string(), format_table(table, "csv"));
  write_file_atomic((sweep / layout::kTableLatex).string(), format_table(table, "latex"));
  write_sweep_roc(sweep.string(), table.rows, (sweep / "roc_macro").string());
  // Every pair of variants: paired DeLong + Holm, paired bootstrap differences, ranking.
  const auto models = sweep_models(sweep.string());
  if (models.size() < 2)
    log_info("reproduce", "one finished variant: nothing to compare");
  else
    write_file_atomic((sweep / layout::kCompare).string(), compare_models(models, CompareOptions{}).dump(2) + "\n");
  // The one file a clinician opens: everything above, inline.
  const StudyReportSummary report = write_study_report(out.string(), (out / layout::kStudyReport).string());
  log_info("reproduce", log_text("report: ", report.path, " (", report.figures, " figures; open it in a browser)"));
}

// OUT/provenance.json: the study's inputs hashed (manifest, checkpoints, segmenter), and
// every command line that has worked on this folder, in order.
void write_study_provenance(const json& record, const fs::path& out) {
  std::vector<ProvenanceInput> inputs = {{"manifest", record.value("manifest", "")}};
  std::set<std::string> seen;
  for (const auto& [name, entry] : record["study"]["backbones"].items()) {
    const std::string weights = entry.is_object() ? entry.value("weights", "") : "";
    if (!weights.empty() && !is_random_weights(weights) && seen.insert(weights).second)
      inputs.push_back({"weights:" + name, weights});
  }
  if (record.value("segmenter", json()).is_object()) {
    inputs.push_back({"segmenter", record["segmenter"].value("model", "")});
    inputs.push_back({"segmenter_spec", record["segmenter"].value("spec", "")});
  }
  json invocations = json::array();
  const fs::path file = out / layout::kProvenance;
  if (fs::exists(file)) {
    const json old = parse_json_file(file.string());
    if (old.is_object() && old.value("invocations", json()).is_array()) invocations = old["invocations"];
  }
  invocations.push_back({{"command_line", command_line()}, {"at", utc_timestamp()}});
  write_provenance(out.string(), inputs,
                   {{"invocations", invocations}, {"image_pipeline", dicom_windowing_policy()},
                    {"split", record.value("split", json())}, {"bootstrap", record.value("bootstrap", 0)}});
}

// A batch script running one stage of this study.
fs::path stage_script(const ReproduceOptions& o, const std::string& stage) {
  const fs::path dir = fs::absolute(fs::path(o.out) / "slurm");
  fs::create_directories(dir);
  std::vector<std::string> args = {"reproduce", "--out", fs::absolute(o.out).string(), "--stage", stage};
  for (const auto& w : slurm_pass_on(o.sweep)) args.push_back(w);
  const std::string text = batch_script_header("osteofm-" + stage, (dir / (stage + "_%j.log")).string()) +
                           child_command(o.sweep, args).script_line() + "\n";
  const fs::path script = dir / (stage + ".sh");
  write_file_atomic(script.string(), text);
  return script;
}

int run_stage(StudyState& s, const ReproduceOptions& o, const std::string& stage) {
  const fs::path out(o.out);
  s.mark(stage, "running");
  int failures = 0;
  try {
    if (stage == "prepare") {
      prepare_stage(s, out);
    } else if (stage == "sweep") {
      SweepOptions so = o.sweep;
      so.resume = true;
      if (so.executor == "slurm" && !so.wait) so.then_script = stage_script(o, "report").string();
      failures = run_sweep((out / layout::kStudyRecord).string(), (out / layout::kStudySweepDir).string(), so);
      if (so.executor == "slurm" && !so.wait) {
        s.mark(stage, "submitted");
        return 0;
      }
    } else {
      report_stage(s, out, o.explain_device);
    }
  } catch (const Interrupted&) {
    s.mark(stage, "interrupted");  // not "failed": resuming carries on from what is kept
    throw;
  } catch (...) {
    s.mark(stage, "failed");
    throw;
  }
  s.mark(stage, failures == 0 ? "done" : "failed");
  return failures;
}
}  // namespace

int run_reproduce(const ReproduceOptions& o) {
  if (o.stage != "all" && o.stage != "prepare" && o.stage != "sweep" && o.stage != "report")
    throw InputError("--stage must be all, prepare, sweep or report, not '" + o.stage + "'");
  make_sweep_executor(o.sweep);  // an unknown --executor, bad --sbatch-args: refused before anything
  StudyState s = open_study(o);
  const fs::path out(o.out);
  // One process works on a study at a time (two would both mark the sweep failed). Slurm's
  // stage jobs are each their own process, started one after the other: not locked here.
  std::unique_ptr<RunLock> lock;
  if (o.sweep.executor == "local") lock = std::make_unique<RunLock>(out, "running a study (osteofm reproduce or demo)");
  for (const fs::path& d : {out, out / "data", out / layout::kStudySweepDir}) remove_stale_temporaries(d.string());  // a killed stage's
  write_study_provenance(s.j, out);
  if (o.stage != "all") {
    if (o.stage != "prepare" && !fs::exists(out / layout::kStudyRecord))
      throw InputError(o.out + ": the prepare stage has not finished (no study.json)");
    return run_stage(s, o, o.stage);
  }
  if (o.sweep.executor == "slurm" && !o.sweep.wait) {
    // Each stage a job after the one before; the sweep job submits the arrays and, after
    // the last, the report job.
    std::string after;
    if (!s.done("prepare")) {
      after = submit_batch(o.sweep, stage_script(o, "prepare").string()).id;
      print_result(log_text("submitted job ", after, " (prepare: data check, split, tensor caches)\n"));
    }
    const std::string sweep = submit_batch(o.sweep, stage_script(o, "sweep").string(), after).id;
    print_result(
        log_text("submitted job ", sweep, " (the sweep: its job arrays, then the report job after them); logs in ",
                 (out / "slurm").string(), "; the table lands in ", (out / layout::kStudySweepDir / layout::kTableMarkdown).string(), "\n"));
    return 0;
  }
  int failures = 0;
  for (const char* stage : kStages) {
    if (std::string(stage) == "prepare" && s.done("prepare") && fs::exists(out / layout::kStudyRecord)) {
      log_info("reproduce", log_text("prepare: kept (", (out / layout::kStudyRecord).string(), ")"));
      continue;
    }
    if (o.sweep.executor == "slurm" && std::string(stage) != "sweep") {
      // --wait: the stage as a job, waited for.
      const SlurmSubmission job = submit_batch(o.sweep, stage_script(o, stage).string());
      s.j = read_json_file(s.file.string());
      if (job.status != 0 || !s.done(stage))
        throw RuntimeFailure(std::string(stage) + " job " + job.id + " failed (logs in " + (out / "slurm").string() + ")");
      print_result(log_text("job ", job.id, " (", stage, ") finished\n"));
      continue;
    }
    log_info("reproduce", log_text(stage, " ..."));
    failures += run_stage(s, o, stage);
  }
  return failures;
}

}  // namespace osteofm
