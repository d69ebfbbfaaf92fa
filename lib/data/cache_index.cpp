#include "data/cache_index.hpp"

#include <filesystem>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"

namespace osteofm {
namespace fs = std::filesystem;

bool is_tensor_cache(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return fs::is_regular_file(fs::path(path) / "cache.json", ec);
  return fs::path(path).filename() == "cache.json" && fs::is_regular_file(path, ec);
}

std::string tensor_cache_dir(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return path;
  const std::string dir = fs::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

Manifest load_manifest(const std::string& path) {
  if (is_tensor_cache(path)) {
    const std::string dir = tensor_cache_dir(path);
    const std::string index = (fs::path(dir) / "index.csv").string();
    std::error_code ec;
    if (!fs::is_regular_file(index, ec))
      throw InputError(dir + ": tensor cache without index.csv (an unfinished 'osteofm data cache'? run it again)");
    Manifest m = parse_manifest_text(read_file(index), index, dir);
    m.cache_dir = dir;
    int c_row = -1, c_status = -1, c_mask = -1;
    for (size_t c = 0; c < m.header.size(); ++c) {
      if (m.header[c] == "cache_row") c_row = static_cast<int>(c);
      if (m.header[c] == "cache_status") c_status = static_cast<int>(c);
      if (m.header[c] == "cache_has_mask") c_mask = static_cast<int>(c);
    }
    if (c_row < 0 || c_status < 0 || c_mask < 0)
      throw InputError(index + ": not a tensor cache index (needs cache_row, cache_status, cache_has_mask)");
    for (auto& r : m.rows) {
      const auto row = parse_number(r.fields[c_row]);
      if (!row || *row < 0) throw InputError(m.where(r) + ": cache_row '" + r.fields[c_row] + "' is not a row number");
      r.cache_row = static_cast<int64_t>(*row);
      r.cache_has_mask = r.fields[c_mask] == "1";
      if (r.fields[c_status] != "ok")
        m.problems.push_back({"undecodable", r.row, r.line, m.where(r) + ": not in the cache: " + r.fields[c_status], true});
    }
    return m;
  }
  return read_manifest(path);
}

}  // namespace osteofm
