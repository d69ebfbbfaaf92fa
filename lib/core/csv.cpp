#include "core/csv.hpp"

#include <charconv>
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

CsvTable parse_csv(std::string_view text, const std::string& source) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF)
    text.remove_prefix(3);

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
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

}  // namespace osteofm
