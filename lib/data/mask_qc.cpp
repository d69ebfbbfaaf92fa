#include "data/mask_qc.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "core/error.hpp"

namespace osteofm {
using nlohmann::json;

MaskStats mask_stats(const uint8_t* mask, int width, int height, uint8_t bits) {
  // One pass over the rows: each row's runs of region pixels, united with the runs of the
  // row above that touch them (8-connected: overlapping or diagonal) in a union-find over
  // runs. Far fewer runs than pixels, so big masks cost one scan.
  MaskStats s;
  if (width <= 0 || height <= 0) return s;
  struct Run {
    int x0, x1;  // [x0, x1)
  };
  std::vector<int> parent;
  auto find = [&](int a) {
    while (parent[static_cast<size_t>(a)] != a) a = parent[static_cast<size_t>(a)] = parent[static_cast<size_t>(parent[static_cast<size_t>(a)])];
    return a;
  };
  std::vector<Run> above, here;
  int above_first = 0;  // index of the row above's first run
  double sx = 0, sy = 0;
  size_t count = 0;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = mask + static_cast<size_t>(y) * width;
    here.clear();
    const int here_first = static_cast<int>(parent.size());
    for (int x = 0; x < width;) {
      if (!(row[x] & bits)) {
        ++x;
        continue;
      }
      const int x0 = x;
      while (x < width && (row[x] & bits)) ++x;
      here.push_back({x0, x});
      parent.push_back(static_cast<int>(parent.size()));
      const double len = x - x0;
      count += static_cast<size_t>(x - x0);
      sx += len * (x0 + x - 1) / 2.0;
      sy += len * y;
      if (x0 == 0 || x == width || y == 0 || y == height - 1) s.touches_border = true;
    }
    // Runs that touch: [a0, a1) and [b0, b1) with a0 <= b1 and b0 <= a1 (diagonals included).
    size_t a = 0;
    for (size_t b = 0; b < here.size(); ++b) {
      while (a < above.size() && above[a].x1 < here[b].x0) ++a;
      for (size_t k = a; k < above.size() && above[k].x0 <= here[b].x1; ++k) {
        const int ra = find(above_first + static_cast<int>(k)), rb = find(here_first + static_cast<int>(b));
        if (ra != rb) parent[static_cast<size_t>(std::max(ra, rb))] = std::min(ra, rb);
      }
    }
    above.swap(here);
    above_first = here_first;
  }
  s.area_fraction = static_cast<double>(count) / (static_cast<double>(width) * height);
  if (count == 0) return s;
  s.centroid_x = (sx / count + 0.5) / width;  // pixel centres, as fractions of the width and height
  s.centroid_y = (sy / count + 0.5) / height;
  for (int i = 0; i < static_cast<int>(parent.size()); ++i) s.components += find(i) == i;
  return s;
}

namespace {

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

bool side_of(const std::string& name, char* side, std::string* key) {
  std::string lower;
  for (char c : name) lower += c == ' ' || c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<std::string> tokens;
  size_t start = 0;
  while (start <= lower.size()) {
    const size_t end = lower.find('_', start);
    const std::string t = lower.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!t.empty()) tokens.push_back(t);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  *side = 0;
  key->clear();
  for (const auto& t : tokens) {
    if ((t == "left" || t == "right") && *side == 0) {
      *side = t == "left" ? 'L' : 'R';
      continue;
    }
    *key += (key->empty() ? "" : "_") + t;
  }
  return *side != 0 && !key->empty();
}

namespace {

json stats_json(const MaskStats& s) {
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  return {{"area_fraction", s.area_fraction}, {"components", s.components}, {"centroid_x", num(s.centroid_x)},
          {"centroid_y", num(s.centroid_y)}, {"touches_border", s.touches_border}};
}

MaskStats stats_from_json(const json& j) {
  MaskStats s;
  s.area_fraction = j.at("area_fraction").get<double>();
  s.components = j.at("components").get<int>();
  if (!j.at("centroid_x").is_null()) s.centroid_x = j.at("centroid_x").get<double>();
  if (!j.at("centroid_y").is_null()) s.centroid_y = j.at("centroid_y").get<double>();
  s.touches_border = j.at("touches_border").get<bool>();
  return s;
}

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "";
  char b[40];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

}  // namespace

MaskQcReport assess_masks(std::vector<MaskQcRow> rows, const RegionTable& table, const MaskQcOptions& options) {
  MaskQcReport rep;
  rep.images = rows.size();
  const size_t R = table.regions.size();
  std::vector<std::vector<double>> areas(R);
  for (auto& row : rows) {
    row.flags.clear();
    if (row.status != "ok") {
      ++rep.failed;
      continue;
    }
    if (row.regions.size() != R) throw RuntimeFailure(row.image_id + ": QC record has the wrong number of regions");
    for (size_t r = 0; r < R; ++r) areas[r].push_back(row.regions[r].area_fraction);
  }
  for (size_t r = 0; r < R; ++r) {
    MaskQcRegionSummary s;
    s.name = table.regions[r].name;
    s.bits = table.regions[r].bits;
    s.bone = table.regions[r].bone;
    s.median_area = median_of(areas[r]);
    std::vector<double> dev;
    for (double a : areas[r]) dev.push_back(std::fabs(a - s.median_area));
    s.mad_area = median_of(dev);
    rep.regions.push_back(s);
  }
  for (auto& row : rows) {
    if (row.status != "ok") continue;
    for (size_t r = 0; r < R; ++r) {
      MaskQcRegionSummary& s = rep.regions[r];
      const MaskStats& st = row.regions[r];
      if (st.area_fraction == 0) {
        row.flags.push_back("empty:" + s.name);
        ++s.empty;
        continue;
      }
      if (areas[r].size() >= 5 && s.mad_area > 0 &&
          std::fabs(0.6745 * (st.area_fraction - s.median_area) / s.mad_area) > options.outlier_z) {
        row.flags.push_back("area_outlier:" + s.name);
        ++s.area_outliers;
      }
      const auto& ok = options.may_touch_border;
      if (st.touches_border && std::find(ok.begin(), ok.end(), s.name) == ok.end()) {
        row.flags.push_back("touches_border:" + s.name);
        ++s.touching_border;
      }
    }
    // Left/right pairs among the named channels.
    std::map<std::string, std::pair<const MaskStats*, const MaskStats*>> pairs;  // key -> (left, right)
    for (const auto& c : row.channels) {
      char side = 0;
      std::string key;
      if (!side_of(c.name, &side, &key)) continue;
      (side == 'L' ? pairs[key].first : pairs[key].second) = &c.stats;
    }
    for (const auto& [key, lr] : pairs) {
      if (!lr.first || !lr.second || lr.first->area_fraction == 0 || lr.second->area_fraction == 0) continue;
      if (lr.second->centroid_x > lr.first->centroid_x) {
        row.flags.push_back("left_right_swapped:" + key);
        ++rep.swapped;
      }
    }
    if (!row.flags.empty()) ++rep.flagged;
  }
  rep.rows = std::move(rows);
  return rep;
}

namespace {
json row_json(const MaskQcRow& row, const RegionTable& table) {
  json regions = json::object(), channels = json::array();
  for (size_t r = 0; r < row.regions.size() && r < table.regions.size(); ++r)
    regions[table.regions[r].name] = stats_json(row.regions[r]);
  for (const auto& c : row.channels) channels.push_back({{"name", c.name}, {"stats", stats_json(c.stats)}});
  return {{"image_id", row.image_id}, {"path", row.path},     {"mask", row.mask},
          {"status", row.status},     {"error", row.error},   {"source_key", row.source_key},
          {"width", row.width},       {"height", row.height}, {"regions", regions},
          {"channels", channels}};
}
}  // namespace

std::string qc_row_json(const MaskQcRow& row, const RegionTable& table) { return row_json(row, table).dump(1) + "\n"; }

MaskQcRow parse_qc_row_json(const std::string& text, const RegionTable& table, const std::string& source) {
  try {
    const json j = json::parse(text);
    MaskQcRow row;
    row.image_id = j.at("image_id").get<std::string>();
    row.path = j.at("path").get<std::string>();
    row.mask = j.at("mask").get<std::string>();
    row.status = j.at("status").get<std::string>();
    row.error = j.at("error").get<std::string>();
    row.source_key = j.at("source_key").get<std::string>();
    row.width = j.at("width").get<int>();
    row.height = j.at("height").get<int>();
    const json& regions = j.at("regions");
    if (regions.size() != table.regions.size()) throw InputError("regions differ from regions.json");
    for (const auto& r : table.regions) row.regions.push_back(stats_from_json(regions.at(r.name)));
    for (const auto& c : j.at("channels")) row.channels.push_back({c.at("name").get<std::string>(), stats_from_json(c.at("stats"))});
    return row;
  } catch (const std::exception& e) {
    throw InputError(source + ": not a QC record of these regions (" + one_line(e.what()) + ")");
  }
}

std::string qc_csv(const MaskQcReport& rep, const RegionTable& table) {
  std::vector<std::string> header = {"image_id", "status", "error", "width", "height", "mask", "flags"};
  for (const auto& r : table.regions)
    for (const char* k : {"_area", "_components", "_centroid_x", "_centroid_y"}) header.push_back(r.name + k);
  std::string out = csv_line(header);
  for (const auto& row : rep.rows) {
    std::string flags;
    for (const auto& f : row.flags) flags += (flags.empty() ? "" : ";") + f;
    std::vector<std::string> f = {row.image_id,
                                  row.status,
                                  row.error,
                                  row.status == "ok" ? std::to_string(row.width) : "",
                                  row.status == "ok" ? std::to_string(row.height) : "",
                                  row.mask,
                                  flags};
    for (size_t r = 0; r < table.regions.size(); ++r) {
      if (row.status != "ok") {
        f.insert(f.end(), 4, "");
        continue;
      }
      const MaskStats& s = row.regions[r];
      f.push_back(fixed(s.area_fraction, 6));
      f.push_back(std::to_string(s.components));
      f.push_back(fixed(s.centroid_x, 4));
      f.push_back(fixed(s.centroid_y, 4));
    }
    out += csv_line(f);
  }
  return out;
}

std::string qc_json(const MaskQcReport& rep, const RegionTable& table) {
  json regions = json::object(), rows = json::array(), flag_counts = json::object();
  for (const auto& s : rep.regions)
    regions[s.name] = {{"bit", s.bits},           {"bone", s.bone},
                       {"median_area", s.median_area}, {"mad_area", s.mad_area},
                       {"empty", s.empty},        {"area_outliers", s.area_outliers},
                       {"touching_border", s.touching_border}};
  std::map<std::string, size_t> counts;
  for (const auto& row : rep.rows) {
    for (const auto& f : row.flags) ++counts[f.substr(0, f.find(':'))];
    json r = row_json(row, table);
    r["flags"] = row.flags;
    rows.push_back(r);
  }
  for (const auto& [k, v] : counts) flag_counts[k] = v;
  return json{{"format", "osteofm-segment-qc/1"},
              {"images", rep.images},
              {"segmented", rep.images - rep.failed},
              {"failed", rep.failed},
              {"flagged", rep.flagged},
              {"flag_counts", flag_counts},
              {"regions", regions},
              {"rows", rows}}
             .dump(2) + "\n";
}

}  // namespace osteofm
