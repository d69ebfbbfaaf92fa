#include "core/labels.hpp"

#include "core/text.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace osteofm {

int who_label(double t) {
  if (t >= -1.0) return kNormal;
  if (t > -2.5) return kOsteopenia;
  return kOsteoporosis;
}

std::optional<int> parse_label(std::string_view text) {
  text = trim(text);
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  for (int k = 0; k < kNumClasses; ++k)
    if (lower == kClassNames[k] || lower == std::to_string(k)) return k;
  return std::nullopt;
}

std::optional<double> parse_number(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  // strtod accepts hex floats and "infinity"; a T-score column should hold plain decimals.
  for (char c : s)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
      return std::nullopt;
  return v;
}

}  // namespace osteofm
