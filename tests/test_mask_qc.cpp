// Segmenter QC (data/mask_qc.hpp), plain C++: the statistics of a mask against masks whose
// answers are known by construction, and each cohort flag raised on the image planted for
// it and on no other.
#include <cmath>
#include <string>
#include <vector>

#include "core/file_names.hpp"
#include "data/mask_qc.hpp"
#include "support.hpp"

using namespace osteofm;

namespace {
// Rows of '.' and letters; a letter's bit is 1 << (letter - 'a').
std::vector<uint8_t> drawn(const std::vector<std::string>& rows) {
  std::vector<uint8_t> m;
  for (const auto& r : rows)
    for (char c : r) m.push_back(c == '.' ? 0 : static_cast<uint8_t>(1 << (c - 'a')));
  return m;
}
}  // namespace

TEST_CASE("mask qc: area, 8-connected pieces, centroid and the border", "[mask_qc]") {
  const std::vector<std::string> rows = {
      "......",
      ".a..a.",
      ".a.a..",  // the right-hand piece joins the left one only diagonally, through (3,2)-(2,3)
      ".aa...",
      "......",
      "....a."};
  const auto m = drawn(rows);
  const MaskStats s = mask_stats(m.data(), 6, 6, 1);
  CHECK(s.area_fraction == Approx(7.0 / 36));
  CHECK(s.components == 2);  // the U with its diagonal arm; the lone pixel at (4,5)
  CHECK(s.touches_border);   // (4,5) is on the last row
  // Centroid of the pixel centres, as fractions of the side.
  double sx = 0, sy = 0;
  int n = 0;
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 6; ++x)
      if (rows[static_cast<size_t>(y)][static_cast<size_t>(x)] == 'a') {
        sx += x + 0.5;
        sy += y + 0.5;
        ++n;
      }
  CHECK(s.centroid_x == Approx(sx / n / 6));
  CHECK(s.centroid_y == Approx(sy / n / 6));
  // Another bit: nothing there.
  const MaskStats e = mask_stats(m.data(), 6, 6, 2);
  CHECK(e.area_fraction == 0);
  CHECK(e.components == 0);
  CHECK(std::isnan(e.centroid_x));
  CHECK_FALSE(e.touches_border);
  // A spiral that comes back on itself is one piece (runs merging late, labels relinked).
  const auto spiral = drawn({"aaaaa", "....a", "aaa.a", "a...a", "aaaaa"});
  CHECK(mask_stats(spiral.data(), 5, 5, 1).components == 1);
  const auto stripes = drawn({"a.a.a", "a.a.a", "a.a.a"});
  CHECK(mask_stats(stripes.data(), 5, 3, 1).components == 3);
}

TEST_CASE("mask qc: each flag on the image planted for it", "[mask_qc]") {
  RegionTable table = {{{"spine", 1, true}, {"clavicles", 4, true}, {"lungs", 32, false}}};
  auto stats = [](double area, double cx, bool border = false) {
    MaskStats s;
    s.area_fraction = area;
    s.components = area > 0 ? 1 : 0;
    s.centroid_x = area > 0 ? cx : NAN;
    s.centroid_y = 0.5;
    s.touches_border = border;
    return s;
  };
  std::vector<MaskQcRow> rows;
  for (int i = 0; i < 8; ++i) {
    MaskQcRow r;
    r.image_id = "img" + std::to_string(i);
    r.regions = {stats(0.05 + 0.001 * i, 0.5), stats(0.02 + 0.001 * i, 0.5), stats(0.30 + 0.01 * i, 0.5)};
    // The patient's right clavicle on the image's left, as a frontal film shows it.
    r.channels = {{"Right Clavicle", stats(0.01, 0.3)}, {"Left Clavicle", stats(0.01, 0.7)}};
    rows.push_back(r);
  }
  rows[1].regions[0] = stats(0, 0);                              // empty spine
  rows[2].regions[2] = stats(0.90, 0.5);                         // lungs far too large
  std::swap(rows[3].channels[0].stats, rows[3].channels[1].stats);  // left and right swapped
  rows[4].regions[2].touches_border = true;                      // lungs at the border
  rows[5].regions[0].touches_border = true;                      // the spine may touch it
  rows[6].status = "failed";
  rows[6].error = "unknown image format";
  const MaskQcReport rep = assess_masks(rows, table, MaskQcOptions{});
  CHECK(rep.images == 8);
  CHECK(rep.failed == 1);
  CHECK(rep.rows[1].flags == std::vector<std::string>{"empty:spine"});
  CHECK(rep.rows[2].flags == std::vector<std::string>{"area_outlier:lungs"});
  CHECK(rep.rows[3].flags == std::vector<std::string>{"left_right_swapped:clavicle"});
  CHECK(rep.rows[4].flags == std::vector<std::string>{"touches_border:lungs"});
  for (int i : {0, 5, 6, 7}) CHECK(rep.rows[static_cast<size_t>(i)].flags.empty());
  CHECK(rep.flagged == 4);
  CHECK(rep.swapped == 1);
  CHECK(rep.regions[0].empty == 1);
  // The per-image record survives a round trip (resume reads it back).
  const MaskQcRow back = parse_qc_row_json(qc_row_json(rep.rows[3], table), table, "rec.json");
  CHECK(back.channels.size() == 2);
  CHECK(back.regions[2].area_fraction == rep.rows[3].regions[2].area_fraction);
  CHECK_THROWS_WITH(parse_qc_row_json("{}", table, "rec.json"), Catch::Contains("rec.json"));
  // qc.csv: a header and one line per image.
  CHECK(osteofm::test::split_lines(qc_csv(rep, table)).size() == 9);
}

TEST_CASE("mask qc: image ids never steer where a file lands", "[mask_qc]") {
  CHECK(file_stem_for_id("img_001.a-b") == "img_001.a-b");
  for (const std::string& id : std::vector<std::string>{"../x", "a/b", ".hidden", "", "a b", std::string(200, 'z'), "..", "x\ny"}) {
    const std::string s = file_stem_for_id(id);
    INFO(id);
    CHECK(s.find('/') == std::string::npos);
    CHECK(s.find('\n') == std::string::npos);
    CHECK((s.empty() || s[0] != '.'));
    CHECK(s != id);
    CHECK(s.size() <= 100);
  }
  CHECK(file_stem_for_id("a/b") != file_stem_for_id("a_b"));
}
