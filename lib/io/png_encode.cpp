#include "io/png_encode.hpp"

#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstdio>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace osteofm {

namespace {

struct PngSink {
  std::string bytes;
  char message[256] = {0};
};

void png_encode_fail(png_structp png, png_const_charp text) {
  auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof sink->message, "%s", text);
  png_longjmp(png, 1);
}
void png_encode_warn(png_structp, png_const_charp) {}  // an encoder warning changes no pixel
void png_append(png_structp png, png_bytep data, png_size_t length) {
  static_cast<PngSink*>(png_get_io_ptr(png))->bytes.append(reinterpret_cast<const char*>(data), length);
}
void png_flush_nothing(png_structp) {}

bool little_endian() {
  const unsigned short probe = 1;
  return *reinterpret_cast<const unsigned char*>(&probe) == 1;
}

}  // namespace

std::string encode_png(const PngRaster& r, const std::string& path) {
  if (r.width <= 0 || r.height <= 0 || r.data == nullptr || (r.channels != 1 && r.channels != 3) ||
      (r.bits != 8 && r.bits != 16))
    throw RuntimeFailure(path + ": PNG encoding failed (an empty raster, or not 1 or 3 channels of 8 or 16 bits)");
  PngSink sink;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_encode_fail, png_encode_warn);
  if (png == nullptr) throw RuntimeFailure(path + ": PNG encoding failed (out of memory)");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    throw RuntimeFailure(path + ": PNG encoding failed (out of memory)");
  }
  std::vector<png_bytep> rows(static_cast<size_t>(r.height));
  for (int y = 0; y < r.height; ++y)
    rows[static_cast<size_t>(y)] = const_cast<png_bytep>(r.data + static_cast<size_t>(y) * r.row_bytes);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw RuntimeFailure(path + ": PNG encoding failed: " + sink.message);
  }
  png_set_write_fn(png, &sink, png_append, png_flush_nothing);
  // OpenCV 4's defaults, kept so that figures stay byte-identical to earlier runs.
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  png_set_compression_level(png, Z_BEST_SPEED);
  png_set_compression_strategy(png, Z_RLE);
  png_set_IHDR(png, info, static_cast<png_uint_32>(r.width), static_cast<png_uint_32>(r.height), r.bits,
               r.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  if (r.bgr) png_set_bgr(png);
  if (r.bits == 16 && little_endian()) png_set_swap(png);  // PNG stores 16-bit big-endian
  png_write_image(png, rows.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return std::move(sink.bytes);
}

void write_png_file(const std::string& path, const PngRaster& raster) {
  write_file_atomic(path, encode_png(raster, path));
}

}  // namespace osteofm
