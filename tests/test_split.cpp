#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "core/labels.hpp"
#include "data/split.hpp"
#include "io/manifest.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;

namespace {
// 300 patients, 1-3 images each, T-scores spread over the three classes.
std::string cohort_csv(bool reversed) {
  std::vector<std::string> lines;
  std::mt19937 rng(7);
  for (int p = 0; p < 300; ++p) {
    const double t = -4.0 + 5.0 * ((p * 37) % 300) / 300.0;
    const int images = 1 + p % 3;
    for (int i = 0; i < images; ++i)
      lines.push_back("I" + std::to_string(p) + "_" + std::to_string(i) + ",P" + std::to_string(p) + ",x.png," +
                      std::to_string(t - 0.01 * i) + "\n");
  }
  if (reversed) std::reverse(lines.begin(), lines.end());
  std::string text = "image_id,patient_id,path,t_score\n";
  for (auto& l : lines) text += l;
  return text;
}
}  // namespace

TEST_CASE("split: patient-level, stratified, seeded and order-independent", "[split]") {
  Manifest a = parse_manifest_text(cohort_csv(false), "a.csv", ".");
  Manifest b = parse_manifest_text(cohort_csv(true), "b.csv", ".");
  const SplitRatios r{0.7, 0.1, 0.2};
  const auto sa = assign_patient_splits(a, r, 42);
  const auto sb = assign_patient_splits(b, r, 42);
  CHECK(sa == sb);                                   // row order does not matter
  CHECK(sa == assign_patient_splits(a, r, 42));      // reproducible
  CHECK(sa != assign_patient_splits(a, r, 43));      // the seed matters
  REQUIRE(sa.size() == 300);

  // Stratified: each class's patients split close to 70/10/20.
  std::map<int, std::map<std::string, int>> per_class;
  std::map<std::string, int> label_of;
  for (const auto& row : a.rows) label_of[row.patient_id] = std::max(label_of[row.patient_id], row.label);
  for (const auto& [patient, split] : sa) per_class[label_of[patient]][split]++;
  for (const auto& [label, counts] : per_class) {
    const int n = counts.at("train") + counts.at("val") + counts.at("test");
    CHECK(std::abs(counts.at("train") - 0.7 * n) <= 1.0);
    CHECK(std::abs(counts.at("val") - 0.1 * n) <= 1.0);
    CHECK(std::abs(counts.at("test") - 0.2 * n) <= 1.0);
  }
  // Applied to rows: no patient in two splits.
  apply_splits(a, sa);
  std::map<std::string, std::set<std::string>> splits_of;
  for (const auto& row : a.rows) splits_of[row.patient_id].insert(row.split);
  for (const auto& [p, s] : splits_of) CHECK(s.size() == 1);
}

TEST_CASE("split: patients linked by a shared radiograph land in one split", "[split]") {
  Manifest a = parse_manifest_text(cohort_csv(false), "a.csv", ".");
  const SplitRatios r{0.7, 0.1, 0.2};
  const auto plain = assign_patient_splits(a, r, 42);
  // Two patients the plain split separates, and a chain of three.
  std::string other;
  for (const auto& [p, split] : plain)
    if (split != plain.at("P0") && other.empty()) other = p;
  REQUIRE(!other.empty());
  const auto linked = assign_patient_splits(a, r, 42, {{"P0", other}, {"P5", "P7"}, {"P7", "P9"}});
  CHECK(linked.at("P0") == linked.at(other));
  CHECK(linked.at("P5") == linked.at("P7"));
  CHECK(linked.at("P7") == linked.at("P9"));
  CHECK(linked.size() == 300);
  CHECK(assign_patient_splits(a, r, 42, {}) == plain);  // nothing linked: the split of before
}

TEST_CASE("split ratios are validated", "[split]") {
  CHECK(parse_split_ratios("0.8,0.1,0.1").train == 0.8);
  CHECK_THROWS(parse_split_ratios("0.8,0.1"));
  CHECK_THROWS(parse_split_ratios("0.8,0.3,0.1"));
  CHECK_THROWS(parse_split_ratios("a,b,c"));
}

TEST_CASE("SplitMix64 matches the reference sequence", "[split]") {
  // First outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
  SplitMix64 g(0);
  CHECK(g.next() == 0xE220A8397B1DCDAFull);
  CHECK(g.next() == 0x6E789E6AA1B965F4ull);
  CHECK(g.next() == 0x06C45D188009454Full);
}
