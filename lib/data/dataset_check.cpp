#include "data/dataset_check.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/labels.hpp"
#include "data/duplicates.hpp"
#include "io/image.hpp"

namespace osteofm {

namespace {
// The same radiograph twice: byte-identical files (always), identical pixels or a near copy
// (with the decode). Across two splits it is leakage, an error; otherwise a warning.
void add_duplicate_problems(Manifest& m, const std::vector<ImageFingerprint>& prints) {
  std::vector<DuplicatePair> pairs = identical_files(m);
  std::set<std::pair<size_t, size_t>> seen;
  for (const auto& p : pairs) seen.insert({p.a, p.b});
  for (const auto& p : find_duplicates(prints))
    if (!seen.count({p.a, p.b})) pairs.push_back(p);
  for (const auto& p : pairs) {
    const ManifestRow& a = m.rows[p.a];
    const ManifestRow& b = m.rows[p.b];
    const bool leak = !a.split.empty() && !b.split.empty() && a.split != b.split;
    m.problems.push_back({leak ? "duplicate_image_leak" : "duplicate_image", b.row, b.line,
                          m.path + ": " + describe_duplicate(m, p) +
                              (leak ? ": leakage between splits (keep both in one split, or drop one)"
                                    : a.patient_id != b.patient_id ? ": filed under two patients" : ""),
                          leak});
  }
}
}  // namespace

DatasetReport check_dataset(Manifest& m, bool decode, int threads) {
  // A tensor cache holds the decoded pixels: its sources need not exist here, and what
  // failed to decode is already an `undecodable` problem from its index.
  const bool cache = !m.cache_dir.empty();
  if (!cache) check_manifest_paths(m);
  std::set<int> missing_rows;
  for (const auto& p : m.problems)
    if (p.kind == "missing_file" || p.kind == "missing_path") missing_rows.insert(p.row);

  // Probe (or decode) every present file; each failure becomes one problem on its row.
  std::mutex mu;
  std::vector<ImageFingerprint> prints(m.rows.size());
  parallel_for(m.rows.size(), threads, [&](size_t i, int) {
    const ManifestRow& r = m.rows[i];
    if (cache || missing_rows.count(r.row)) return;
    std::string failure, kind = "unreadable_file";
    std::vector<std::string> doubts, not_chest;
    try {
      if (decode) {
        GrayImage img = read_image(r.path);
        not_chest = not_frontal_chest_reasons(img);
        doubts = image_doubts(img);
        prints[i] = fingerprint(img);
        if (!r.mask.empty()) {
          int w = 0, h = 0;
          kind = "bad_mask";
          read_png_u8(r.mask, &w, &h);
          if (w != img.width || h != img.height)
            failure = "mask " + r.mask + " is " + std::to_string(w) + "x" + std::to_string(h) + ", image is " +
                      std::to_string(img.width) + "x" + std::to_string(img.height);
        }
      } else if (sniff_image_format(r.path) == ImageFormat::Unknown) {
        failure = r.path + ": unknown image format (expected PNG, JPEG, TIFF, BMP or DICOM)";
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
    std::lock_guard<std::mutex> lock(mu);
    if (!failure.empty()) m.problems.push_back({kind, r.row, r.line, m.where(r) + ": " + failure, true});
    for (const auto& d : not_chest) m.problems.push_back({"not_chest_radiograph", r.row, r.line, m.where(r) + ": " + d, false});
    for (const auto& d : doubts) m.problems.push_back({"image_doubt", r.row, r.line, m.where(r) + ": " + d, false});
  });

  if (!cache) add_duplicate_problems(m, prints);

  DatasetReport rep;
  rep.manifest = m.path;
  rep.rows = m.rows.size();
  rep.decoded = decode;
  std::set<std::string> all_patients;
  std::map<std::string, std::set<std::string>> split_patients;
  for (const auto& r : m.rows) {
    auto& counts = rep.images[r.split];
    counts[r.label >= 0 && r.label < kNumClasses ? r.label : 3]++;
    if (!r.patient_id.empty()) {
      all_patients.insert(r.patient_id);
      split_patients[r.split].insert(r.patient_id);
    }
  }
  rep.patients = all_patients.size();
  for (const auto& [s, p] : split_patients) rep.patients_per_split[s] = p.size();

  if (!m.has_split && !m.rows.empty())
    m.problems.push_back({"no_split", 0, 1, m.path + ": no split column; make one with 'osteofm data split'", false});
  size_t per_class[kNumClasses] = {0, 0, 0};
  for (const auto& r : m.rows)
    if (r.label >= 0) per_class[r.label]++;
  for (int k = 0; k < kNumClasses; ++k)
    if (per_class[k] == 0 && !m.rows.empty())
      m.problems.push_back({"empty_class", 0, 1, m.path + ": no " + std::string(kClassNames[k]) + " images (one-vs-rest AUC undefined)", false});

  // Per split: an absent class leaves the split's macro AUC undefined (validation selects
  // the best epoch on it, test reports it); a handful of images of a class gives intervals
  // too wide to mean much.
  if (m.has_split)
    for (const char* split : {"train", "val", "test"}) {
      auto it = rep.images.find(split);
      if (it == rep.images.end()) {
        m.problems.push_back({"empty_split", 0, 1, m.path + ": the " + std::string(split) + " split has no images", false});
        continue;
      }
      for (int k = 0; k < kNumClasses; ++k) {
        const size_t n = it->second[k];
        if (n == 0)
          m.problems.push_back({"split_missing_class", 0, 1,
                                m.path + ": the " + std::string(split) + " split has no " + kClassNames[k] +
                                    " images: its macro AUC is undefined" +
                                    (std::string(split) == "val" ? " (training would select epochs on accuracy)" : ""),
                                false});
        else if (n < 5)
          m.problems.push_back({"tiny_class", 0, 1,
                                m.path + ": the " + std::string(split) + " split has only " + std::to_string(n) + " " +
                                    kClassNames[k] + " image(s): its intervals will be very wide",
                                false});
      }
    }
  rep.problems = m.problems;
  std::stable_sort(rep.problems.begin(), rep.problems.end(),
                   [](const ManifestProblem& a, const ManifestProblem& b) { return a.row < b.row; });
  for (const auto& p : rep.problems) (p.error ? rep.errors : rep.warnings)++;
  return rep;
}

nlohmann::json report_json(const DatasetReport& rep) {
  nlohmann::json j;
  j["manifest"] = rep.manifest;
  j["usable"] = rep.usable();
  j["rows"] = rep.rows;
  j["patients"] = rep.patients;
  j["decoded"] = rep.decoded;
  nlohmann::json splits = nlohmann::json::object();
  for (const auto& [s, c] : rep.images) {
    nlohmann::json e;
    for (int k = 0; k < kNumClasses; ++k) e[kClassNames[k]] = c[k];
    e["unknown"] = c[3];
    e["images"] = c[0] + c[1] + c[2] + c[3];
    auto it = rep.patients_per_split.find(s);
    e["patients"] = it == rep.patients_per_split.end() ? 0 : it->second;
    splits[s.empty() ? "unassigned" : s] = e;
  }
  j["splits"] = splits;
  j["errors"] = rep.errors;
  j["warnings"] = rep.warnings;
  nlohmann::json probs = nlohmann::json::array();
  for (const auto& p : rep.problems)
    probs.push_back({{"kind", p.kind}, {"row", p.row}, {"line", p.line}, {"severity", p.error ? "error" : "warning"},
                     {"message", p.message}});
  j["problems"] = probs;
  return j;
}

std::string report_text(const DatasetReport& rep) {
  std::ostringstream o;
  o << rep.manifest << ": " << rep.rows << " images, " << rep.patients << " patients"
    << (rep.decoded ? " (every image decoded)" : " (files probed; --decode to decode every image)") << "\n";
  o << "  split         images  patients    normal osteopenia osteoporosis  unknown\n";
  for (const auto& [s, c] : rep.images) {
    auto it = rep.patients_per_split.find(s);
    char line[160];
    std::snprintf(line, sizeof line, "  %-12s %7zu  %8zu  %8zu %10zu %12zu %8zu\n", s.empty() ? "unassigned" : s.c_str(),
                  c[0] + c[1] + c[2] + c[3], it == rep.patients_per_split.end() ? size_t(0) : it->second, c[0], c[1],
                  c[2], c[3]);
    o << line;
  }
  for (const auto& p : rep.problems) o << (p.error ? "error: " : "warning: ") << p.message << "\n";
  o << (rep.usable() ? "OK" : "UNUSABLE") << ": " << rep.errors << " errors, " << rep.warnings << " warnings\n";
  return o.str();
}

}  // namespace osteofm
