#include <cmath>

#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/labels.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;

TEST_CASE("CSV: quotes, escaped quotes, embedded newlines, BOM and CRLF", "[csv]") {
  const std::string text = "\xEF\xBB\xBF" "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n2,\"two\nlines\",\r\n3,,z";
  CsvTable t = parse_csv(text, "t.csv");
  REQUIRE(t.header == std::vector<std::string>{"a", "b", "c"});
  REQUIRE(t.records.size() == 3);
  CHECK(t.records[0].fields == std::vector<std::string>{"1", "x, y", "say \"hi\""});
  CHECK(t.records[0].line == 2);
  CHECK(t.records[1].fields == std::vector<std::string>{"2", "two\nlines", ""});
  CHECK(t.records[1].line == 4);
  CHECK(t.records[2].fields == std::vector<std::string>{"3", "", "z"});
  CHECK(t.records[2].line == 6);
  CHECK(t.column("c") == 2);
  CHECK(t.column("d") == -1);
}

TEST_CASE("CSV: malformed quoting names the line", "[csv]") {
  try {
    parse_csv("a,b\n1,2\n3,\"open\n", "bad.csv");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()) == "bad.csv:3: quoted field is never closed");
  }
  CHECK_THROWS_AS(parse_csv("a,b\n1,\"x\"y\n", "bad.csv"), InputError);
  CHECK_THROWS_AS(parse_csv("", "empty.csv"), InputError);
}

TEST_CASE("CSV: writing quotes only when needed and reads back", "[csv]") {
  std::vector<std::string> fields = {"plain", "with,comma", "with \"quote\"", "multi\nline"};
  CsvTable t = parse_csv("h1,h2,h3,h4\n" + csv_line(fields), "x");
  CHECK(t.records.at(0).fields == fields);
  CHECK(csv_field("plain") == "plain");
}

TEST_CASE("format_double prints the shortest text that reads back exactly", "[csv]") {
  for (double v : {0.1, 1.0 / 3.0, 2.5e-300, -1234.5678, 0.9299999999999999}) {
    CHECK(std::strtod(format_double(v).c_str(), nullptr) == v);
  }
  CHECK(format_double(0.1) == "0.1");
  // Positional where Python's repr is (ages, counts): "50", not "5e+01".
  CHECK(format_double(50) == "50");
  CHECK(format_double(100) == "100");
  CHECK(format_double(-2000) == "-2000");
  CHECK(format_double(0.0001) == "0.0001");
  CHECK(format_double(1e15) == "1000000000000000");
  CHECK(format_double(1e16) == "1e+16");
  CHECK(format_double(1e-5) == "1e-05");
  for (double v : {50.0, 1e15, 123456789012.5, 0.00012345678901234})
    CHECK(std::strtod(format_double(v).c_str(), nullptr) == v);
  // Shortest at a binade edge too, as Python's repr: 2^-24 (a float32 probability can be
  // exactly that) is 16 digits; the shortest %.{p}g that reads back needs 17.
  CHECK(format_double(std::ldexp(1.0, -24)) == "5.960464477539063e-08");
  CHECK(format_double(std::ldexp(1.0, -44)) == "5.684341886080802e-14");
  CHECK(format_double(-0.0) == "-0");
  CHECK(format_double(0.0) == "0");
  CHECK(format_double(-0.00012) == "-0.00012");
  CHECK(format_double(1234.5) == "1234.5");
  CHECK(format_double(1e15 + 0.5) == "1000000000000000.5");
}

TEST_CASE("WHO labels at the exact boundaries", "[labels]") {
  CHECK(who_label(-1.0) == kNormal);
  CHECK(who_label(0.5) == kNormal);
  CHECK(who_label(-1.0000001) == kOsteopenia);
  CHECK(who_label(-2.4999999) == kOsteopenia);
  CHECK(who_label(-2.5) == kOsteoporosis);
  CHECK(who_label(-4.0) == kOsteoporosis);
  CHECK(parse_label("Osteopenia") == 1);
  CHECK(parse_label("2") == 2);
  CHECK_FALSE(parse_label("osteo").has_value());
  CHECK(parse_number(" -2.7 ") == -2.7);
  CHECK_FALSE(parse_number("-2,7").has_value());
  CHECK_FALSE(parse_number("nan").has_value());
  CHECK_FALSE(parse_number("0x1p3").has_value());
}

TEST_CASE("json_file: every error names the file", "[csv]") {
  TempDir dir;
  write_text(dir / "good.json", "{\"a\": 1}\n");
  write_text(dir / "bad.json", "{\"a\": 1,\n");
  CHECK(read_json_file(dir / "good.json")["a"] == 1);
  CHECK_THROWS_WITH(read_json_file(dir / "bad.json"),
                    Catch::StartsWith(dir / "bad.json") && Catch::Contains(": not valid JSON (") &&
                        !Catch::Contains("\n"));
  CHECK_THROWS_AS(read_json_file(dir / "bad.json"), InputError);
  CHECK_THROWS_WITH(read_json_file(dir / "none.json"), dir / "none.json" + ": no such file");
  CHECK(parse_json_file(dir / "bad.json").is_discarded());
  CHECK_THROWS_WITH(parse_json_file(dir / "none.json"), dir / "none.json" + ": no such file");
}
