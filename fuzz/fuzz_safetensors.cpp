// Fuzzes the safetensors header validation: any input must either parse into entries
// that lie inside the buffer, or throw InputError; never crash or read out of bounds.
#include <cstdint>
#include <cstdlib>

#include "core/error.hpp"
#include "io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    osteofm::SafetensorsHeader h = osteofm::parse_safetensors(data, size, "fuzz");
    for (const auto& e : h.tensors) {
      if (h.data_start + e.end > size) std::abort();  // the validator promised this
      volatile uint8_t sum = 0;
      for (uint64_t i = e.begin; i < e.end; ++i) sum += data[h.data_start + i];
    }
  } catch (const osteofm::InputError&) {
  }
  return 0;
}
