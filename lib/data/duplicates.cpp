#include "data/duplicates.hpp"

#include <algorithm>
#include <bitset>
#include <filesystem>
#include <map>

#include "core/hash.hpp"
#include "core/sha256.hpp"

namespace osteofm {

ImageFingerprint fingerprint(const GrayImage& im) {
  ImageFingerprint f;
  if (im.width <= 0 || im.height <= 0 || im.pixels.size() != static_cast<size_t>(im.width) * im.height) return f;
  f.valid = true;
  uint64_t h = fnv1a(std::to_string(im.width) + "x" + std::to_string(im.height));
  for (float v : im.pixels) {
    const auto q = static_cast<uint16_t>(std::clamp(v, 0.0f, 1.0f) * 65535.0f + 0.5f);
    const char bytes[2] = {static_cast<char>(q & 0xff), static_cast<char>(q >> 8)};  // little endian
    h = fnv1a(std::string_view(bytes, 2), h);
  }
  f.exact = h;
  // Area means on a 17 x 16 grid: each cell averages the pixels whose centres fall in it,
  // so a film and its resized copy give nearly the same grid.
  constexpr int W = 17, H = 16;
  std::array<double, W * H> sum{}, count{};
  for (int y = 0; y < im.height; ++y) {
    const int gy = std::min(H - 1, static_cast<int>((y + 0.5) * H / im.height));
    for (int x = 0; x < im.width; ++x) {
      const int gx = std::min(W - 1, static_cast<int>((x + 0.5) * W / im.width));
      sum[gy * W + gx] += im.at(x, y);
      count[gy * W + gx] += 1;
    }
  }
  int bit = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x + 1 < W; ++x, ++bit) {
      const double left = count[y * W + x] > 0 ? sum[y * W + x] / count[y * W + x] : 0;
      const double right = count[y * W + x + 1] > 0 ? sum[y * W + x + 1] / count[y * W + x + 1] : 0;
      if (left > right) f.perceptual[bit / 64] |= uint64_t{1} << (bit % 64);
    }
  return f;
}

int hamming_distance(const ImageFingerprint& a, const ImageFingerprint& b) {
  int d = 0;
  for (size_t i = 0; i < a.perceptual.size(); ++i) d += static_cast<int>(std::bitset<64>(a.perceptual[i] ^ b.perceptual[i]).count());
  return d;
}

std::vector<DuplicatePair> identical_files(const Manifest& m) {
  std::map<uintmax_t, std::vector<size_t>> by_size;
  for (size_t i = 0; i < m.rows.size(); ++i) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(m.rows[i].path, ec);
    if (!ec && size > 0) by_size[size].push_back(i);
  }
  std::vector<DuplicatePair> out;
  for (const auto& [size, rows] : by_size) {
    if (rows.size() < 2) continue;
    std::map<std::string, std::vector<size_t>> by_hash;
    for (size_t i : rows) {
      try {
        by_hash[sha256_file(m.rows[i].path)].push_back(i);
      } catch (const std::exception&) {
      }
    }
    for (const auto& [hash, same] : by_hash)
      for (size_t a = 0; a < same.size(); ++a)
        for (size_t b = a + 1; b < same.size(); ++b) out.push_back({same[a], same[b], true, 0});
  }
  std::sort(out.begin(), out.end(), [](const DuplicatePair& x, const DuplicatePair& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  return out;
}

std::string describe_duplicate(const Manifest& m, const DuplicatePair& p) {
  const ManifestRow& a = m.rows[p.a];
  const ManifestRow& b = m.rows[p.b];
  auto where = [](const ManifestRow& r) {
    return "row " + std::to_string(r.row) + " (" + r.image_id + ", patient " + r.patient_id +
           (r.split.empty() ? std::string() : ", " + r.split) + ")";
  };
  return where(a) + " and " + where(b) + " hold the same radiograph (" +
         (p.exact ? std::string("exact copy") : "near copy: " + std::to_string(p.distance) + " of 256 hash bits differ") + ")";
}

std::vector<DuplicatePair> find_duplicates(const std::vector<ImageFingerprint>& prints) {
  std::vector<DuplicatePair> out;
  for (size_t i = 0; i < prints.size(); ++i) {
    if (!prints[i].valid) continue;
    for (size_t j = i + 1; j < prints.size(); ++j) {
      if (!prints[j].valid) continue;
      const bool exact = prints[i].exact == prints[j].exact;
      const int d = hamming_distance(prints[i], prints[j]);
      if (exact || d <= kNearDuplicateBits) out.push_back({i, j, exact, d});
    }
  }
  return out;
}

}  // namespace osteofm
