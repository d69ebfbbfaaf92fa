#include "data/cache_index.hpp"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
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
    // Every cached image once: an index that lost rows would quietly drop images from
    // training, evaluation and predict.
    const std::string info_path = (fs::path(dir) / "cache.json").string();
    const nlohmann::json info = parse_json_file(info_path);
    if (!info.is_object() || !info.contains("images") || !info["images"].is_number_unsigned())
      throw InputError(info_path + ": no 'images' count (not an osteofm tensor cache?)");
    const size_t images = info["images"].get<size_t>();
    if (m.rows.size() != images)
      throw InputError(index + ": " + std::to_string(m.rows.size()) + " rows, but cache.json lists " +
                       std::to_string(images) + " images (the index was edited or cut short; run 'osteofm data cache' again)");
    std::vector<bool> seen(images, false);
    for (auto& r : m.rows) {
      const auto row = parse_number(r.fields[c_row]);
      if (!row || *row < 0) throw InputError(m.where(r) + ": cache_row '" + r.fields[c_row] + "' is not a row number");
      if (*row != std::floor(*row) || *row >= static_cast<double>(images) || seen[static_cast<size_t>(*row)])
        throw InputError(m.where(r) + ": cache_row '" + r.fields[c_row] + "' is out of range or given twice (" +
                         std::to_string(images) + " images in the cache)");
      seen[static_cast<size_t>(*row)] = true;
      r.cache_row = static_cast<int64_t>(*row);
      r.cache_has_mask = r.fields[c_mask] == "1";
      if (r.fields[c_status] != "ok")
        m.problems.push_back({"undecodable", r.row, r.line, m.where(r) + ": not in the cache: " + r.fields[c_status], true});
    }
    return m;
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // A folder that a data cache began but never finished (cache.json is written last).
    for (const auto& e : fs::directory_iterator(path, ec)) {
      const std::string name = e.path().filename().string();
      if (name == "index.csv" || name.rfind("shard-", 0) == 0 || name.find(".tmp.") != std::string::npos)
        throw InputError(path + ": a tensor cache that was not finished (no cache.json); run 'osteofm data cache' "
                         "again to complete it");
    }
    throw InputError(path + ": a folder that is neither a manifest nor a tensor cache (no cache.json)");
  }
  return read_manifest(path);
}

}  // namespace osteofm
