#include "io/manifest.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/file_names.hpp"
#include "core/labels.hpp"

namespace osteofm {
namespace fs = std::filesystem;

namespace {
const std::set<std::string> kKnownColumns = {"image_id", "patient_id", "path", "t_score", "label", "split", "mask"};
// Columns a tensor cache adds to its index: internal, never passed through.
bool known_column(const std::string& name) { return kKnownColumns.count(name) || name.rfind("cache_", 0) == 0; }

std::string trimmed(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty()) return p;
  fs::path path(p);
  if (path.is_absolute() || base.empty()) return path.lexically_normal().string();
  return (fs::path(base) / path).lexically_normal().string();
}
}  // namespace

bool Manifest::usable() const { return error_count() == 0; }

size_t Manifest::error_count() const {
  size_t n = 0;
  for (const auto& p : problems) n += p.error ? 1 : 0;
  return n;
}

std::vector<std::string> Manifest::passthrough_columns() const {
  std::vector<std::string> out;
  for (const auto& h : header)
    if (!known_column(h)) out.push_back(h);
  return out;
}

std::vector<std::string> Manifest::passthrough_fields(const ManifestRow& row) const {
  std::vector<std::string> out;
  for (size_t c = 0; c < header.size() && c < row.fields.size(); ++c)
    if (!known_column(header[c])) out.push_back(row.fields[c]);
  return out;
}

std::string Manifest::where(const ManifestRow& r) const {
  return path + ":" + std::to_string(r.line) + ": row " + std::to_string(r.row);
}

Manifest parse_manifest_text(std::string_view text, const std::string& source, const std::string& base_dir) {
  CsvTable table = parse_csv(text, source);
  Manifest m;
  m.path = source;
  m.dir = base_dir;
  m.header = table.header;
  {
    std::set<std::string> seen;
    for (const auto& h : table.header) {
      if (h.empty()) throw InputError(source + ":" + std::to_string(table.header_line) + ": empty column name in the header");
      if (!seen.insert(h).second)
        throw InputError(source + ":" + std::to_string(table.header_line) + ": column '" + h + "' appears twice in the header");
    }
  }
  const int c_image = table.column("image_id"), c_patient = table.column("patient_id"), c_path = table.column("path");
  const int c_t = table.column("t_score"), c_label = table.column("label"), c_split = table.column("split"),
            c_mask = table.column("mask");
  for (auto [col, name] : {std::pair{c_image, "image_id"}, {c_patient, "patient_id"}, {c_path, "path"}})
    if (col < 0)
      throw InputError(source + ":" + std::to_string(table.header_line) + ": required column '" + name +
                       "' is missing (header must name image_id, patient_id, path and t_score or label)");
  if (c_t < 0 && c_label < 0)
    throw InputError(source + ":" + std::to_string(table.header_line) + ": needs a 't_score' or a 'label' column");
  m.has_t_score = c_t >= 0;
  m.has_label = c_label >= 0;
  m.has_split = c_split >= 0;
  m.has_mask = c_mask >= 0;
  if (table.records.empty()) m.problems.push_back({"empty", 0, table.header_line, source + ": no data rows", true});

  auto problem = [&](const ManifestRow& r, const std::string& kind, const std::string& msg, bool error = true) {
    m.problems.push_back({kind, r.row, r.line, m.where(r) + ": " + msg, error});
  };

  std::map<std::string, int> first_row_of_image;
  int row_no = 0;
  for (auto& rec : table.records) {
    ManifestRow r;
    r.row = ++row_no;
    r.line = rec.line;
    if (rec.fields.size() != table.header.size()) {
      problem(r, "bad_field_count",
              std::to_string(rec.fields.size()) + " fields, the header has " + std::to_string(table.header.size()));
      rec.fields.resize(table.header.size());
    }
    r.fields = rec.fields;
    auto get = [&](int c) { return c >= 0 ? trimmed(rec.fields[c]) : std::string(); };
    r.image_id = get(c_image);
    r.patient_id = get(c_patient);
    const std::string raw_path = get(c_path);
    r.path = resolve(base_dir, raw_path);
    r.mask = resolve(base_dir, get(c_mask));
    r.split = get(c_split);
    if (r.image_id.empty()) problem(r, "missing_image_id", "image_id is empty");
    if (r.patient_id.empty()) problem(r, "missing_patient_id", "patient_id is empty");
    if (raw_path.empty()) problem(r, "missing_path", "path is empty");

    std::optional<int> from_t, from_label;
    if (c_t >= 0) {
      const std::string t = get(c_t);
      if (!t.empty()) {
        auto v = parse_number(t);
        if (!v) {
          problem(r, "bad_t_score", "t_score '" + t + "' is not a number");
        } else {
          r.t_score = *v;
          from_t = who_label(*v);
          if (std::fabs(*v) > 10.0) problem(r, "implausible_t_score", "t_score " + t + " is outside [-10, 10]", false);
        }
      }
    }
    if (c_label >= 0) {
      const std::string l = get(c_label);
      if (!l.empty()) {
        from_label = parse_label(l);
        if (!from_label) problem(r, "bad_label", "label '" + l + "' is not normal|osteopenia|osteoporosis or 0|1|2");
      }
    }
    if (from_t && from_label && *from_t != *from_label)
      problem(r, "label_mismatch",
              "label " + std::string(kClassNames[*from_label]) + " disagrees with t_score " + get(c_t) + " (" +
                  kClassNames[*from_t] + ")");
    if (from_t) r.label = *from_t;
    else if (from_label) r.label = *from_label;
    else if ((c_t < 0 || get(c_t).empty()) && (c_label < 0 || get(c_label).empty()))
      problem(r, c_t >= 0 ? "missing_t_score" : "missing_label", c_t >= 0 ? "t_score is empty" : "label is empty");

    if (!r.split.empty() && r.split != "train" && r.split != "val" && r.split != "test")
      problem(r, "bad_split", "split '" + r.split + "' is not train|val|test");
    if (!r.image_id.empty() && file_stem_for_id(r.image_id) != r.image_id)
      problem(r, "image_id_not_a_file_name",
              "image_id '" + one_line(r.image_id) + "' is not a plain file name (letters, digits, '.', '_', '-'; not "
              "starting with '.'): files named after it (masks, overlays) are written as '" +
                  file_stem_for_id(r.image_id) + "'",
              false);
    if (!r.image_id.empty()) {
      auto [it, inserted] = first_row_of_image.emplace(r.image_id, r.row);
      if (!inserted)
        problem(r, "duplicate_image_id", "image_id '" + r.image_id + "' already used in row " + std::to_string(it->second));
    }
    m.rows.push_back(std::move(r));
  }

  // Patient leakage: one patient's images in more than one split.
  std::map<std::string, std::map<std::string, const ManifestRow*>> splits_of_patient;
  for (const auto& r : m.rows)
    if (!r.patient_id.empty() && (r.split == "train" || r.split == "val" || r.split == "test"))
      splits_of_patient[r.patient_id].emplace(r.split, &r);
  for (const auto& [patient, splits] : splits_of_patient) {
    if (splits.size() < 2) continue;
    std::string desc;
    const ManifestRow* last = nullptr;
    for (const auto& [split, r] : splits) {
      desc += (desc.empty() ? "" : ", ") + split + " (row " + std::to_string(r->row) + ")";
      if (!last || r->row > last->row) last = r;
    }
    problem(*last, "leakage", "patient '" + patient + "' is in several splits: " + desc);
  }
  return m;
}

Manifest read_manifest(const std::string& path) {
  const std::string text = read_file(path);
  std::string dir = fs::path(path).parent_path().string();
  return parse_manifest_text(text, path, dir.empty() ? "." : dir);
}

void check_manifest_paths(Manifest& m) {
  for (const auto& r : m.rows) {
    std::error_code ec;
    if (!r.path.empty()) {
      if (!fs::exists(r.path, ec)) m.problems.push_back({"missing_file", r.row, r.line, m.where(r) + ": image file " + r.path + " does not exist", true});
      else if (!fs::is_regular_file(r.path, ec)) m.problems.push_back({"missing_file", r.row, r.line, m.where(r) + ": image path " + r.path + " is not a file", true});
    }
    if (!r.mask.empty() && !fs::is_regular_file(r.mask, ec))
      m.problems.push_back({"missing_mask", r.row, r.line, m.where(r) + ": mask file " + r.mask + " does not exist", true});
  }
}

void write_manifest(const Manifest& m, const std::string& out_path) {
  fs::path out_dir = fs::absolute(fs::path(out_path)).parent_path();
  const int c_path = [&] { for (size_t i = 0; i < m.header.size(); ++i) if (m.header[i] == "path") return int(i); return -1; }();
  const int c_mask = [&] { for (size_t i = 0; i < m.header.size(); ++i) if (m.header[i] == "mask") return int(i); return -1; }();
  int c_split = -1;
  std::vector<std::string> header = m.header;
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == "split") c_split = static_cast<int>(i);
  // A split column is added only to carry splits (data split); a manifest without any keeps
  // its columns (data segment adds `mask` alone).
  const bool any_split = std::any_of(m.rows.begin(), m.rows.end(), [](const ManifestRow& r) { return !r.split.empty(); });
  if (c_split < 0 && any_split) {
    header.push_back("split");
    c_split = static_cast<int>(header.size()) - 1;
  }
  const bool same_dir = fs::absolute(fs::path(m.dir)).lexically_normal() == out_dir.lexically_normal();
  auto relocate = [&](const std::string& resolved, const std::string& original) {
    if (resolved.empty() || same_dir || fs::path(original).is_absolute()) return original;
    return fs::absolute(resolved).lexically_normal().lexically_relative(out_dir).string();
  };
  std::string text = csv_line(header);
  for (const auto& r : m.rows) {
    std::vector<std::string> f = r.fields;
    f.resize(header.size());
    if (c_path >= 0) f[c_path] = relocate(r.path, f[c_path]);
    if (c_mask >= 0) f[c_mask] = relocate(r.mask, f[c_mask]);
    if (c_split >= 0) f[c_split] = r.split;
    text += csv_line(f);
  }
  write_file_atomic(out_path, text);
}

}  // namespace osteofm
