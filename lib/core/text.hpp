// Small text helpers shared by the CSV readers (manifests, image indexes, DXA exports) and
// the DICOM attribute checks.
#pragma once
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace osteofm {

// `s` without leading and trailing white space (std::isspace).
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// "a, b or c": alternatives as a message lists them.
inline std::string or_list(const std::vector<std::string>& items) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) text += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + items[i];
  return text;
}

// ASCII upper case (DICOM code strings, view positions, sexes).
inline std::string to_upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// True when `s` holds a control character (below 0x20, or DEL): newlines in a path would
// split a batch script's line, and no file name needs one.
inline bool has_control_character(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

// `s` with control characters written as \n, \t, \r or \xNN, for messages.
inline std::string visible_text(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (u < 0x20 || u == 0x7f) out += std::string("\\x") + hex[u >> 4] + hex[u & 15];
    else out += c;
  }
  return out;
}

}  // namespace osteofm
