// WHO T-score classes (design.md "Labels").
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace osteofm {

constexpr int kNumClasses = 3;
enum Label : int { kNormal = 0, kOsteopenia = 1, kOsteoporosis = 2 };
inline const std::array<const char*, kNumClasses> kClassNames = {"normal", "osteopenia", "osteoporosis"};

// normal T >= -1.0, osteopenia -2.5 < T < -1.0, osteoporosis T <= -2.5.
int who_label(double t_score);

// "normal|osteopenia|osteoporosis" (case-insensitive) or "0|1|2"; nullopt otherwise.
std::optional<int> parse_label(std::string_view text);

// Strict decimal number: the whole field, finite, no trailing text ("-2.7", "1e-1").
std::optional<double> parse_number(std::string_view text);

}  // namespace osteofm
