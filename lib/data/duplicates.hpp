// The same radiograph twice in a cohort: under two patient ids it leaks from train into
// test. Exact copies are found by the pixels (any file format, any container), near copies
// (the same film resized, re-encoded or re-windowed) by a 256-bit difference hash of a
// 17x16 area average, whose Hamming distance stays small under resizing and grey-level
// changes and is large between two patients' films (measured: docs/architecture.md).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "io/image.hpp"
#include "io/manifest.hpp"

namespace osteofm {

struct ImageFingerprint {
  bool valid = false;
  uint64_t exact = 0;                    // FNV-1a of the size and the 16-bit pixels
  std::array<uint64_t, 4> perceptual{};  // dHash: 16 rows x 16 comparisons of a 17x16 area mean
};

ImageFingerprint fingerprint(const GrayImage& image);
int hamming_distance(const ImageFingerprint& a, const ImageFingerprint& b);
// Two films at or under this distance are called near duplicates.
constexpr int kNearDuplicateBits = 12;

struct DuplicatePair {
  size_t a = 0, b = 0;  // indexes into the fingerprints, a < b
  bool exact = false;
  int distance = 0;
};
// Every exact or near-duplicate pair among valid fingerprints (all pairs are compared:
// 20,000 films take about a second).
std::vector<DuplicatePair> find_duplicates(const std::vector<ImageFingerprint>& prints);

// Rows (indexes into m.rows) whose files hold the same bytes, without decoding: only files
// that share a size with another are read and hashed, so a cohort of distinct files costs
// one stat per file. Rows whose file cannot be read are skipped (data check names them).
std::vector<DuplicatePair> identical_files(const Manifest& m);

// "rows 3 and 17 (patients P1 and P9) hold the same radiograph (exact copy)" and the like.
std::string describe_duplicate(const Manifest& m, const DuplicatePair& p);

}  // namespace osteofm
