#include "io/raster_codecs.hpp"

#include <cctype>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <png.h>

#include "core/error.hpp"

namespace osteofm {

namespace {
void add_warning(std::vector<std::string>& warnings, const std::string& w) {
  for (const auto& x : warnings)
    if (x == w) return;
  if (warnings.size() < 4) warnings.push_back(w);
}

// ---- JPEG -----------------------------------------------------------------------------
// libjpeg reports through function pointers: error_exit must not return (longjmp back to
// the decode), emit_message(-1) is a warning ("corrupt data", decoded anyway), positive
// levels are trace messages. Nothing is ever printed.
struct JpegErrors {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  std::vector<std::string>* warnings;
};

void jpeg_exit(j_common_ptr info) {
  auto* e = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, e->message);
  std::longjmp(e->jump, 1);
}
void jpeg_emit(j_common_ptr info, int level) {
  if (level >= 0) return;
  auto* e = reinterpret_cast<JpegErrors*>(info->err);
  info->err->num_warnings++;
  char text[JMSG_LENGTH_MAX];
  (*info->err->format_message)(info, text);
  add_warning(*e->warnings, text);
}
void jpeg_silent(j_common_ptr) {}

// Plain C state only between setjmp and longjmp: the Mat is the caller's.
bool jpeg_decode_into(const std::string& bytes, DecodedRaster* out, JpegErrors* err) {
  jpeg_decompress_struct info;
  info.err = jpeg_std_error(&err->pub);
  err->pub.error_exit = jpeg_exit;
  err->pub.emit_message = jpeg_emit;
  err->pub.output_message = jpeg_silent;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  const int components = info.num_components;
  if (components != 1 && components != 3) {
    // CMYK/YCCK: left to OpenCV's converter (the caller falls back).
    jpeg_destroy_decompress(&info);
    std::snprintf(err->message, sizeof err->message, "%d-component JPEG", components);
    out->stored_channels = components;
    return false;
  }
  info.out_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  out->stored_channels = components;
  out->mat.create(static_cast<int>(info.output_height), static_cast<int>(info.output_width), components == 1 ? CV_8UC1 : CV_8UC3);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = out->mat.ptr<unsigned char>(static_cast<int>(info.output_scanline));
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

// ---- PNG ------------------------------------------------------------------------------
struct PngState {
  std::vector<std::string>* warnings;
  char message[256];
  const std::string* bytes;
  size_t offset;
};

void png_fail(png_structp png, png_const_charp text) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", text);
  png_longjmp(png, 1);
}
void png_warn(png_structp png, png_const_charp text) {
  // "iCCP: known incorrect sRGB profile" and the like concern ancillary chunks (a name
  // starting in lower case) that never change the pixels: not worth a warning.
  const std::string t = text;
  if (t.size() > 5 && t[4] == ':' && std::islower(static_cast<unsigned char>(t[0]))) return;
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  add_warning(*s->warnings, t);
}
void png_read_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (s->offset + length > s->bytes->size()) png_error(png, "truncated file");
  std::memcpy(data, s->bytes->data() + s->offset, length);
  s->offset += length;
}

bool png_decode_into(PngState* state, DecodedRaster* out) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, state, png_fail, png_warn);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, state, png_read_bytes);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  const int depth = png_get_bit_depth(png, info), colour = png_get_color_type(png, info);
  if (width > 65535 || height > 65535) png_error(png, "image larger than 65535 pixels on a side");
  // As OpenCV: palette -> RGB, low bit depths -> 8 bit, alpha dropped, 16-bit in host order,
  // no gamma correction (the stored values are the image).
  if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (colour == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (colour & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  const uint16_t probe = 1;
  const bool little_endian = *reinterpret_cast<const unsigned char*>(&probe) == 1;
  if (depth == 16 && little_endian) png_set_swap(png);  // PNG stores 16-bit big-endian
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info), out_depth = png_get_bit_depth(png, info);
  out->stored_channels = (colour & PNG_COLOR_MASK_COLOR) ? 3 : 1;
  out->mat.create(static_cast<int>(height), static_cast<int>(width), CV_MAKETYPE(out_depth == 16 ? CV_16U : CV_8U, channels));
  // Row by row (an interlaced image in its passes): no C++ object lives in this frame
  // across a possible longjmp.
  for (int pass = 0; pass < passes; ++pass)
    for (png_uint_32 y = 0; y < height; ++y) png_read_row(png, out->mat.ptr<png_byte>(static_cast<int>(y)), nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}
}  // namespace

DecodedRaster decode_jpeg(const std::string& path, const std::string& bytes) {
  DecodedRaster out;
  JpegErrors err{};
  err.warnings = &out.warnings;
  if (!jpeg_decode_into(bytes, &out, &err)) {
    if (out.stored_channels != 1 && out.stored_channels != 3) {
      out.mat = cv::Mat();  // signal: not ours to decode
      return out;
    }
    throw InputError(path + ": cannot decode JPEG: " + err.message);
  }
  return out;
}

DecodedRaster decode_png(const std::string& path, const std::string& bytes) {
  DecodedRaster out;
  PngState state{&out.warnings, {0}, &bytes, 0};
  if (!png_decode_into(&state, &out))
    throw InputError(path + ": cannot decode PNG: " + (state.message[0] ? state.message : "out of memory"));
  return out;
}

}  // namespace osteofm
