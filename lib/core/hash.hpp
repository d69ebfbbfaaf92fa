// FNV-1a 64: a stable, platform-independent fingerprint for cache keys (not for security).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace osteofm {

inline uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

inline std::string hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace osteofm
