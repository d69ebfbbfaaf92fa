// Manifest CSV (design.md "Manifest CSV"): image_id, patient_id, path, then t_score or
// label, optional split and mask, any other columns passed through.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace osteofm {

struct ManifestRow {
  int row = 0;   // data row, 1-based (the header is row 0)
  int line = 0;  // physical line in the file, 1-based (the header is line 1)
  std::string image_id, patient_id;
  std::string path;      // resolved against the manifest's folder
  std::string mask;      // resolved, or empty
  std::string split;     // "train", "val", "test" or empty
  std::optional<double> t_score;
  int label = -1;        // 0/1/2, or -1 when unknown
  std::vector<std::string> fields;  // the row as written (same order as Manifest::header)
  // Rows of a tensor cache's index (data/tensor_cache.hpp): the image's place in the cache.
  int64_t cache_row = -1;
  bool cache_has_mask = false;
};

struct ManifestProblem {
  std::string kind;  // stable key: bad_t_score, missing_file, duplicate_image_id, leakage, ...
  int row = 0;       // 0 when it concerns the whole file
  int line = 0;
  std::string message;
  bool error = true;  // false: a warning that does not make the manifest unusable
};

struct Manifest {
  std::string path;  // the manifest file
  std::string dir;   // its folder: base of relative paths
  std::vector<std::string> header;
  std::vector<ManifestRow> rows;
  std::vector<ManifestProblem> problems;
  bool has_t_score = false, has_label = false, has_split = false, has_mask = false;
  std::string cache_dir;  // set when this is a tensor cache's index: images come from its shards

  bool usable() const;                 // no error-level problem
  size_t error_count() const;
  std::vector<std::string> passthrough_columns() const;  // header minus the known columns
  std::vector<std::string> passthrough_fields(const ManifestRow& row) const;  // that row's values of them
  // "<manifest>:<line>: row <row>: <message>", the one-line form used everywhere.
  std::string where(const ManifestRow& row) const;
};

// Parses manifest text. Problems with single rows are collected in `problems`; a file
// that cannot be a manifest at all (no header, required column missing, malformed
// quoting) throws InputError naming the file and line.
Manifest parse_manifest_text(std::string_view text, const std::string& source, const std::string& base_dir);

// Reads and parses a manifest file (relative paths resolve against its folder). A tensor
// cache's index is read by data/cache_index.hpp's load_manifest, which owns that format.
Manifest read_manifest(const std::string& path);

// Adds missing_file / missing_mask problems for paths that do not exist or are not files.
void check_manifest_paths(Manifest& manifest);

// Writes the manifest (possibly with changed split values) to `out_path` atomically,
// rewriting relative image and mask paths so they stay right from the new folder.
void write_manifest(const Manifest& manifest, const std::string& out_path);

}  // namespace osteofm
