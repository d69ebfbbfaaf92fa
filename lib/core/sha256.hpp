// SHA-256 (FIPS 180-4) of bytes and of files, for provenance records (the inputs of a
// study, its checkpoints). Written here rather than taken from OpenSSL because the GPU
// build (no package registry there) must hash the same way; checked against the NIST
// vectors and sha256sum in tests.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace osteofm {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> digest();  // finishes; the object is spent
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes
};

std::string sha256_hex(std::string_view data);
// Streams the file; throws InputError naming it when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace osteofm
