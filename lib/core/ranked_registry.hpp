// What files register at static initialisation (backbone families, CLI verbs), in rank
// order. One function-local static per kind of entry: it exists before the first
// registrar runs, whatever the order in which the files are initialised.
#pragma once
#include <algorithm>
#include <utility>
#include <vector>

namespace osteofm {

template <class Entry>
std::vector<std::pair<int, Entry>>& ranked_registry() {
  static std::vector<std::pair<int, Entry>> entries;
  return entries;
}

template <class Entry>
void register_ranked(int rank, Entry entry) {
  ranked_registry<Entry>().emplace_back(rank, entry);
}

// The entries by rank (stable: equal ranks keep their registration order).
template <class Entry>
std::vector<Entry> ranked_entries() {
  auto sorted = ranked_registry<Entry>();
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Entry> out;
  for (const auto& [rank, entry] : sorted) out.push_back(entry);
  return out;
}

}  // namespace osteofm
