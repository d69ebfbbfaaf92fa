// File names for per-image outputs (masks/<image_id>.png): an image_id is data from a CSV
// and may hold '/', "..", spaces or control characters, none of which may steer where a
// file lands.
#pragma once
#include <string>

#include "core/hash.hpp"

namespace osteofm {

// The id itself when it is a plain name (letters, digits, '.', '_', '-', not starting with
// '.', at most 100 characters); otherwise those characters kept, the rest '_', cut to 80,
// and "-" + 16 hex digits of the id's hash added, so two ids never share a file.
inline std::string file_stem_for_id(const std::string& id) {
  bool plain = !id.empty() && id.size() <= 100 && id[0] != '.';
  std::string kept;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    plain = plain && ok;
    if (kept.size() < 80) kept += ok ? c : '_';
  }
  if (plain) return id;
  if (!kept.empty() && kept[0] == '.') kept[0] = '_';
  return kept + "-" + hex64(fnv1a(id));
}

}  // namespace osteofm
