#include "data/split.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <sstream>
#include <vector>

#include "core/error.hpp"
#include "core/labels.hpp"
#include "data/duplicates.hpp"

namespace osteofm {

SplitRatios parse_split_ratios(const std::string& text, const std::string& option, const std::string& parts) {
  std::vector<double> v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto x = parse_number(item);
    if (!x || *x < 0) throw InputError(option + " '" + text + "': '" + item + "' is not a non-negative number");
    v.push_back(*x);
  }
  if (v.size() != 3) throw InputError(option + " '" + text + "': expected three numbers " + parts);
  if (std::fabs(v[0] + v[1] + v[2] - 1.0) > 1e-6) throw InputError(option + " '" + text + "': the three numbers must sum to 1");
  return {v[0], v[1], v[2]};
}

std::map<std::string, std::string> assign_patient_splits(const Manifest& m, const SplitRatios& ratios, uint64_t seed,
                                                         const std::vector<std::pair<std::string, std::string>>& linked) {
  // Linked patients become one unit, named by its smallest id (union-find over ids).
  std::map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> root = [&](const std::string& p) -> std::string {
    auto it = parent.find(p);
    if (it == parent.end() || it->second == p) return p;
    return it->second = root(it->second);
  };
  for (const auto& [a, b] : linked) {
    if (a.empty() || b.empty()) continue;
    const std::string ra = root(a), rb = root(b);
    if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
  }
  std::map<std::string, int> stratum;  // unit -> most severe label (-1 unknown)
  std::map<std::string, std::vector<std::string>> members;  // unit -> its patients
  for (const auto& r : m.rows) {
    if (r.patient_id.empty()) continue;
    const std::string unit = root(r.patient_id);
    auto it = stratum.find(unit);
    if (it == stratum.end()) stratum.emplace(unit, r.label);
    else it->second = std::max(it->second, r.label);
    auto& list = members[unit];
    if (std::find(list.begin(), list.end(), r.patient_id) == list.end()) list.push_back(r.patient_id);
  }
  std::map<int, std::vector<std::string>> groups;  // ordered by stratum, units by id
  for (const auto& [patient, s] : stratum) groups[s].push_back(patient);

  const std::array<const char*, 3> names = {"train", "val", "test"};
  const std::array<double, 3> share = {ratios.train, ratios.val, ratios.test};
  std::map<std::string, std::string> out;
  SplitMix64 rng(seed);
  for (auto& [s, patients] : groups) {
    for (size_t i = patients.size(); i > 1; --i) std::swap(patients[i - 1], patients[rng.below(i)]);
    const double n = static_cast<double>(patients.size());
    std::array<size_t, 3> count{};
    std::array<double, 3> frac{};
    size_t assigned = 0;
    for (int k = 0; k < 3; ++k) {
      const double exact = n * share[k];
      count[k] = static_cast<size_t>(std::floor(exact + 1e-9));
      frac[k] = exact - count[k];
      assigned += count[k];
    }
    // Largest remainder; ties go to the later split (test, then val) so small strata
    // still reach the evaluation sets.
    while (assigned < patients.size()) {
      int best = 2;
      for (int k = 2; k >= 0; --k)
        if (frac[k] > frac[best] + 1e-12) best = k;
      ++count[best];
      frac[best] = -1.0;
      ++assigned;
    }
    size_t i = 0;
    for (int k = 0; k < 3; ++k)
      for (size_t j = 0; j < count[k]; ++j, ++i)
        for (const auto& p : members[patients[i]]) out[p] = names[k];
  }
  return out;
}

void apply_splits(Manifest& m, const std::map<std::string, std::string>& patient_split) {
  for (auto& r : m.rows) {
    auto it = patient_split.find(r.patient_id);
    r.split = it == patient_split.end() ? std::string() : it->second;
  }
}

std::map<std::string, std::string> split_manifest(Manifest& m, const SplitRatios& ratios, uint64_t seed,
                                                  std::vector<std::string>* duplicates) {
  // Splitting needs every row's patient and label; the old split column is replaced.
  for (const auto& p : m.problems)
    if (p.error && p.kind != "leakage" && p.kind != "bad_split") throw InputError(p.message);
  // The same file under two patient ids would otherwise land in train and in test.
  std::vector<std::pair<std::string, std::string>> linked;
  for (const DuplicatePair& d : identical_files(m)) {
    linked.emplace_back(m.rows[d.a].patient_id, m.rows[d.b].patient_id);
    if (duplicates) duplicates->push_back(describe_duplicate(m, d) + "; both patients kept in one split");
  }
  auto assignment = assign_patient_splits(m, ratios, seed, linked);
  apply_splits(m, assignment);
  return assignment;
}

}  // namespace osteofm
