// PNG encoding through libpng directly: the one encoder for figures, masks and exported
// images. It writes what OpenCV's imencode(".png") wrote before (its settings: SUB filter,
// zlib level 1, run-length strategy), so files are byte-identical to earlier runs, but
// without libopencv_imgcodecs, whose ~140 shared libraries (GDAL, codecs) made every
// figure-writing process slow to start. Image-I/O builds only.
#pragma once
#include <cstddef>
#include <string>

namespace osteofm {

struct PngRaster {
  int width = 0;
  int height = 0;
  int channels = 1;  // 1: grey; 3: colour
  int bits = 8;      // 8, or 16 in native byte order
  const unsigned char* data = nullptr;
  size_t row_bytes = 0;  // stride between rows
  bool bgr = false;      // colour stored blue first (OpenCV's order)
};

// The PNG file's bytes; RuntimeFailure naming `path` when libpng refuses the raster.
std::string encode_png(const PngRaster& raster, const std::string& path);
// encode_png, then written atomically to `path`.
void write_png_file(const std::string& path, const PngRaster& raster);

}  // namespace osteofm
