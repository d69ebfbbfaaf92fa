// Calendar dates as day numbers (days since 1970-01-01, proleptic Gregorian), for the
// pairing windows of cohort linkage and the ages of DICOM headers. Strict parsers: a
// date that does not exist (2019-02-30) is no date.
#pragma once
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace osteofm {

// Howard Hinnant's days_from_civil.
inline long days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long>(doe) - 719468;
}

inline bool is_leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

inline unsigned days_in_month(int y, unsigned m) {
  static const unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : kDays[m - 1];
}

struct CivilDate {
  int year = 0;
  unsigned month = 0, day = 0;
  long day_number() const { return days_from_civil(year, month, day); }
  std::string iso() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", year, month, day);
    return buf;
  }
};

namespace civil_detail {
inline bool digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}
inline std::optional<CivilDate> make(std::string_view y, std::string_view m, std::string_view d) {
  if (!digits(y) || !digits(m) || !digits(d)) return std::nullopt;
  CivilDate c{std::stoi(std::string(y)), static_cast<unsigned>(std::stoi(std::string(m))),
              static_cast<unsigned>(std::stoi(std::string(d)))};
  if (c.year < 1800 || c.year > 2200 || c.month < 1 || c.month > 12 || c.day < 1 || c.day > days_in_month(c.year, c.month))
    return std::nullopt;
  return c;
}
}  // namespace civil_detail

// "YYYY-MM-DD" exactly.
inline std::optional<CivilDate> parse_iso_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  return civil_detail::make(s.substr(0, 4), s.substr(5, 2), s.substr(8, 2));
}

// DICOM DA: "YYYYMMDD" (the ACR-NEMA form "YYYY.MM.DD" is accepted too: old exports have it).
inline std::optional<CivilDate> parse_dicom_date(std::string_view s) {
  if (s.size() == 8) return civil_detail::make(s.substr(0, 4), s.substr(4, 2), s.substr(6, 2));
  if (s.size() == 10 && s[4] == '.' && s[7] == '.') return civil_detail::make(s.substr(0, 4), s.substr(5, 2), s.substr(8, 2));
  return std::nullopt;
}

// Whole years from birth to a date (a birthday not yet reached that year does not count).
inline int whole_years_between(const CivilDate& birth, const CivilDate& on) {
  int years = on.year - birth.year;
  if (on.month < birth.month || (on.month == birth.month && on.day < birth.day)) --years;
  return years;
}

}  // namespace osteofm
