// Small text helpers shared by the CSV readers (manifests, image indexes, DXA exports) and
// the DICOM attribute checks.
#pragma once
#include <cctype>
#include <string>
#include <string_view>

namespace osteofm {

// `s` without leading and trailing white space (std::isspace).
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// ASCII upper case (DICOM code strings, view positions, sexes).
inline std::string to_upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace osteofm
