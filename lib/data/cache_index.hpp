// A tensor cache's index (data/tensor_cache.hpp writes it): index.csv beside cache.json,
// a manifest with cache_row, cache_status and cache_has_mask columns. This part owns
// that format; io/ reads plain manifests only.
#pragma once
#include <string>

#include "io/manifest.hpp"

namespace osteofm {

// A manifest file, or a tensor cache (a folder with cache.json, or that cache.json): its
// index.csv, with cache_dir set and every image the cache could not decode as an
// `undecodable` error.
Manifest load_manifest(const std::string& path);
// True for a tensor cache folder or its cache.json.
bool is_tensor_cache(const std::string& path);
// The folder of a tensor cache given as folder or cache.json.
std::string tensor_cache_dir(const std::string& path);

}  // namespace osteofm
