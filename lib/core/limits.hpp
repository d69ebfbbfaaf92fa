// Process-wide input limits: how large an image osteofm agrees to decode. A few hundred
// bytes of header can claim 60000 x 60000 pixels; the decoders would then allocate
// gigabytes before finding out the data is not there. `osteofm --max-pixels N` sets it.
#pragma once
#include <atomic>

namespace osteofm {

// 100 million pixels: a 10,000 x 10,000 film (chest radiographs are 2,000-4,300 px a side).
inline constexpr long long kDefaultMaxImagePixels = 100'000'000;

inline std::atomic<long long>& max_image_pixels_slot() {
  static std::atomic<long long> n{kDefaultMaxImagePixels};
  return n;
}
inline void set_max_image_pixels(long long n) { max_image_pixels_slot() = n > 0 ? n : kDefaultMaxImagePixels; }
inline long long max_image_pixels() { return max_image_pixels_slot().load(); }

}  // namespace osteofm
