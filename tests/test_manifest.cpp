#include <set>

#include "core/error.hpp"
#include "data/dataset_check.hpp"
#include "io/manifest.hpp"
#include "planted.hpp"
#include "data/cache_index.hpp"

using namespace osteofm;
using namespace osteofm::test;

namespace {
std::set<std::pair<std::string, int>> errors_of(const DatasetReport& rep) {
  std::set<std::pair<std::string, int>> out;
  for (const auto& p : rep.problems)
    if (p.error) out.insert({p.kind, p.row});
  return out;
}
}  // namespace

TEST_CASE("data check finds every planted fault with its row", "[manifest][image_io]") {
  TempDir dir;
  Manifest m = load_manifest(planted_manifest(dir));
  REQUIRE(m.rows.size() == 6);
  DatasetReport rep = check_dataset(m, /*decode=*/true, 2);
  const auto errs = errors_of(rep);
  CHECK(errs == std::set<std::pair<std::string, int>>{
                    {"missing_file", 3}, {"leakage", 4}, {"duplicate_image_id", 5}, {"bad_t_score", 6}});
  CHECK_FALSE(rep.usable());
  for (const auto& p : rep.problems) {
    // One line each, naming the manifest, its line and row.
    CHECK(p.message.find('\n') == std::string::npos);
    if (p.row > 0) CHECK(p.message.find("planted.csv:" + std::to_string(p.row + 1) + ": row " + std::to_string(p.row)) != std::string::npos);
  }
  // Counts: labels from T-scores; the bad T-score row is unknown.
  CHECK(rep.images.at("train") == std::array<size_t, 4>{1, 1, 0, 0});
  CHECK(rep.images.at("test") == std::array<size_t, 4>{0, 1, 1, 0});
  CHECK(rep.images.at("val") == std::array<size_t, 4>{0, 0, 1, 1});
  CHECK(rep.patients == 5);
  // Pass-through columns survive, quoted commas included.
  CHECK(m.passthrough_columns() == std::vector<std::string>{"site"});
  CHECK(m.rows[3].fields[5] == "A, B");
}

TEST_CASE("manifest: relative paths, label column, mismatches, missing columns", "[manifest]") {
  TempDir dir;
  fs::create_directories(dir.path / "imgs");
  fs::copy_file(shared("data/public-cxr/nih-chestxray14/torchxrayvision-512/00000001_000.png"), dir / "imgs/a.png");
  write_text(dir / "m.csv",
             "image_id,patient_id,path,t_score,label\n"
             "a,P1,imgs/a.png,-2.5,osteoporosis\n"
             "b,P2,imgs/a.png,,1\n"
             "c,P3,imgs/a.png,-0.3,osteopenia\n"
             "d,P4,imgs/a.png,,\n"
             "e,P5,imgs/a.png,-1,bone\n");
  Manifest m = load_manifest(dir / "m.csv");
  REQUIRE(m.rows.size() == 5);
  CHECK(fs::path(m.rows[0].path) == (dir.path / "imgs/a.png").lexically_normal());
  CHECK(m.rows[0].label == 2);
  CHECK(m.rows[1].label == 1);
  CHECK(m.rows[2].label == 0);  // the T-score wins, the mismatch is reported
  std::set<std::pair<std::string, int>> got;
  for (const auto& p : m.problems) got.insert({p.kind, p.row});
  CHECK(got == std::set<std::pair<std::string, int>>{{"label_mismatch", 3}, {"missing_t_score", 4}, {"bad_label", 5}});

  write_text(dir / "nocol.csv", "image_id,path,t_score\nx,a.png,-1\n");
  try {
    load_manifest(dir / "nocol.csv");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK_THAT(std::string(e.what()), Catch::EndsWith("nocol.csv:1: required column 'patient_id' is missing "
                                                      "(header must name image_id, patient_id, path and t_score or label)"));
  }
  CHECK_THROWS_AS(load_manifest(dir / "absent.csv"), InputError);
  write_text(dir / "nolabel.csv", "image_id,patient_id,path\nx,P,a.png\n");
  CHECK_THROWS_WITH(load_manifest(dir / "nolabel.csv"), Catch::Contains("needs a 't_score' or a 'label' column"));
}

TEST_CASE("manifest: ragged rows and undecodable images are row errors", "[manifest][image_io]") {
  TempDir dir;
  const std::string png = shared("data/public-cxr/nih-chestxray14/torchxrayvision-512/00000001_000.png");
  // A truncated copy of a real PNG.
  const std::string bytes = read_text(png);
  write_text(dir / "trunc.png", bytes.substr(0, bytes.size() / 2));
  write_text(dir / "m.csv",
             "image_id,patient_id,path,t_score\n"
             "a,P1," + png + ",-1.5\n"
             "b,P2,trunc.png,-1.5\n"
             "c,P3," + png + "\n");
  Manifest m = load_manifest(dir / "m.csv");
  DatasetReport rep = check_dataset(m, true, 2);
  const auto errs = errors_of(rep);
  CHECK(errs.count({"unreadable_file", 2}) == 1);
  CHECK(errs.count({"bad_field_count", 3}) == 1);
  CHECK(errs.size() == 3);  // plus the missing T-score of the short row
}

TEST_CASE("the example manifest in data_manifests/ is usable", "[manifest][image_io]") {
  shared_dir();  // fails clearly when shared/ is absent
  Manifest m = load_manifest(source("data_manifests/example_public_cxr.csv"));
  DatasetReport rep = check_dataset(m, true, 2);
  for (const auto& p : rep.problems) INFO(p.message);
  CHECK(rep.usable());
  CHECK(rep.rows >= 20);
  CHECK(rep.images.count("train") == 1);
  CHECK(rep.images.count("test") == 1);
}
