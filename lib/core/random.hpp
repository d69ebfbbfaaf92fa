// A portable, seedable random generator: the same seed gives the same numbers with
// every compiler and standard library (std::uniform_int_distribution does not).
#pragma once
#include <cstddef>
#include <cstdint>

namespace osteofm {

// SplitMix64 (Steele, Lea, Flood 2014; Vigna's reference constants).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), bound > 0: Lemire's multiply-shift with rejection (unbiased).
  uint64_t below(uint64_t bound) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  // Fills out[0..count) with uniform integers in [0, bound), bound < 2^32: two 32-bit
  // multiply-shift draws per 64-bit output, with Lemire's rejection (unbiased).
  void fill_below(uint32_t bound, uint32_t* out, size_t count) {
    const uint32_t threshold = static_cast<uint32_t>(-bound) % bound;
    size_t i = 0;
    while (i < count) {
      const uint64_t r = next();
      for (int half = 0; half < 2 && i < count; ++half) {
        const uint64_t m = static_cast<uint64_t>(static_cast<uint32_t>(r >> (32 * half))) * bound;
        if (static_cast<uint32_t>(m) >= threshold) out[i++] = static_cast<uint32_t>(m >> 32);
      }
    }
  }
  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return (next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace osteofm
