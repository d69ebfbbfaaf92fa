// Fuzzes the CSV + manifest parser: any text either parses (problems collected per row)
// or throws InputError; never crash.
#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "io/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    osteofm::Manifest m = osteofm::parse_manifest_text(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.csv", "/base");
    for (const auto& r : m.rows)
      if (r.fields.size() != m.header.size()) __builtin_trap();
  } catch (const osteofm::InputError&) {
  }
  return 0;
}
