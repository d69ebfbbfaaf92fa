// RFC 4180 CSV: header row, comma separated, quoted fields with "" escapes and embedded
// newlines, a UTF-8 byte-order mark and CRLF line ends tolerated.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace osteofm {

struct CsvRecord {
  int line = 0;    // physical line (1-based) where the record starts
  std::vector<std::string> fields;
};

struct CsvTable {
  std::vector<std::string> header;
  std::vector<CsvRecord> records;  // data records; blank lines are skipped
  int header_line = 1;
  // Column index by name, or -1.
  int column(std::string_view name) const;
};

// Throws InputError("<source>:<line>: ...") on malformed quoting or an empty input.
CsvTable parse_csv(std::string_view text, const std::string& source);

// Quotes a field when it contains a comma, quote, CR or LF.
std::string csv_field(std::string_view value);
std::string csv_line(const std::vector<std::string>& fields);

// Shortest text that reads back to the identical double (like Python's repr).
std::string format_double(double value);
// printf's %.Nf: a fixed number of decimals, for tables and captions.
std::string format_fixed(double value, int decimals);

}  // namespace osteofm
