#include "core/csv.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <cmath>

#include "core/error.hpp"

namespace osteofm {

int CsvTable::column(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

namespace {
// Offset of the first byte that does not start or continue a valid UTF-8 sequence
// (overlong forms and surrogates included), or npos.
size_t invalid_utf8_at(std::string_view t) {
  size_t i = 0;
  while (i < t.size()) {
    const auto c = static_cast<unsigned char>(t[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > t.size() || (len == 2 && c < 0xC2)) return i;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(t[i + k]);
      if ((d >> 6) != 0x2) return i;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return i;
    i += len;
  }
  return std::string_view::npos;
}
}  // namespace

CsvTable parse_csv(std::string_view text, const std::string& source) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF)
    text.remove_prefix(3);
  // CSVs are UTF-8 (design.md); a Latin-1 export would otherwise reach the JSON writers.
  if (const size_t bad = invalid_utf8_at(text); bad != std::string_view::npos) {
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + bad, '\n'));
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[bad]));
    throw InputError(source + ":" + std::to_string(line) + ": not UTF-8 text (byte " + byte +
                     "); save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)");
  }

  std::vector<CsvRecord> rows;
  CsvRecord current;
  std::string field;
  int line = 1;
  current.line = 1;
  bool in_quotes = false, field_quoted = false, after_quote = false, record_has_content = false;
  int quote_line = 0;
  size_t i = 0;
  auto end_field = [&]() {
    current.fields.push_back(std::move(field));
    field.clear();
    field_quoted = false;
    after_quote = false;
  };
  auto end_record = [&]() {
    end_field();
    bool blank = current.fields.size() == 1 && current.fields[0].empty() && !record_has_content;
    if (!blank) rows.push_back(std::move(current));
    current = CsvRecord();
    record_has_content = false;
  };
  while (i < text.size()) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          i += 2;
          continue;
        }
        in_quotes = false;
        after_quote = true;
        ++i;
        continue;
      }
      if (c == '\n') ++line;
      field.push_back(c);
      ++i;
      continue;
    }
    if (c == ',') {
      end_field();
      record_has_content = true;
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      end_record();
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
      current.line = line;
      continue;
    }
    if (after_quote)
      throw InputError(source + ":" + std::to_string(line) + ": text after a closing quote in a quoted field");
    if (c == '"' && field.empty() && !field_quoted) {
      in_quotes = true;
      field_quoted = true;
      record_has_content = true;
      quote_line = line;
      ++i;
      continue;
    }
    field.push_back(c);
    record_has_content = true;
    ++i;
  }
  if (in_quotes)
    throw InputError(source + ":" + std::to_string(quote_line) + ": quoted field is never closed");
  if (!field.empty() || !current.fields.empty() || record_has_content) end_record();

  if (rows.empty()) throw InputError(source + ": empty file, a header row is required");
  CsvTable table;
  table.header_line = rows.front().line;
  table.header = std::move(rows.front().fields);
  for (auto& h : table.header) {
    // Trim surrounding spaces in column names: "image_id, path" is a common hand edit.
    size_t a = h.find_first_not_of(" \t"), b = h.find_last_not_of(" \t");
    h = (a == std::string::npos) ? std::string() : h.substr(a, b - a + 1);
  }
  table.records.assign(std::make_move_iterator(rows.begin() + 1), std::make_move_iterator(rows.end()));
  return table;
}

std::string csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out.push_back(',');
    out += csv_field(fields[i]);
  }
  out.push_back('\n');
  return out;
}

std::string format_double(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0) return std::signbit(value) ? "-0" : "0";
  // The shortest digits that read back exactly (std::to_chars, as Python's repr finds
  // them; a %.{p}g loop is one digit longer at some binade edges, e.g. 2^-24), ...
  char sci[64];
  const auto r = std::to_chars(sci, sci + sizeof sci, value, std::chars_format::scientific);
  const std::string text(sci, r.ptr);  // [-]d[.ddd]e(+|-)XX
  const size_t e = text.find('e');
  const int exponent = std::atoi(text.c_str() + e + 1);
  // ... written as Python's repr writes them: positional notation for decimal exponents
  // -4..15 ("50", not "5e+01"), scientific outside ("1e-05", "1e+16").
  if (exponent < -4 || exponent >= 16) return text;
  const bool negative = text[0] == '-';
  std::string digits;
  for (size_t k = negative ? 1 : 0; k < e; ++k)
    if (text[k] != '.') digits.push_back(text[k]);
  std::string out = negative ? "-" : "";
  if (exponent < 0) {
    out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  } else if (digits.size() <= static_cast<size_t>(exponent) + 1) {
    out += digits + std::string(static_cast<size_t>(exponent) + 1 - digits.size(), '0');
  } else {
    out += digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
  }
  return out;
}

std::string format_fixed(double value, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, value);
  return b;
}

}  // namespace osteofm
