#include "io/image.hpp"
#include "core/limits.hpp"
#include "core/text.hpp"
#include "io/dicom_header.hpp"

#include <cctype>
#include <cstdlib>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/annotate.hpp"
#include "io/raster_codecs.hpp"
#endif

namespace osteofm {
namespace fs = std::filesystem;

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Tiff: return "TIFF";
    case ImageFormat::Bmp: return "BMP";
    case ImageFormat::Dicom: return "DICOM";
    default: return "unknown";
  }
}

bool is_radiograph_modality(const std::string& modality) {
  const std::string m = to_upper(modality);
  return m.empty() || m == "CR" || m == "DX";
}

bool is_chest_body_part(const std::string& body_part) {
  const std::string b = to_upper(body_part);
  return b.empty() || b == "CHEST";
}

std::string non_frontal_view(const std::string& view_position) {
  const std::string v = to_upper(view_position);
  if (v == "LL" || v == "RL" || v == "LAT" || v == "LATERAL" || v == "RLD" || v == "LLD") return "lateral";
  if (v == "LLO" || v == "RLO") return "oblique";
  return "";
}

std::vector<std::string> radiograph_warnings(const GrayImage& img) {
  std::vector<std::string> w = not_frontal_chest_reasons(img);
  for (auto& d : image_doubts(img)) w.push_back(std::move(d));
  return w;
}

std::vector<std::string> image_doubts(const GrayImage& img) {
  std::vector<std::string> w = img.decoder_warnings;
  if (img.format != ImageFormat::Dicom && img.channels > 1)
    w.push_back("colour image (" + std::to_string(img.channels) + " channels) converted to grayscale");
  return w;
}

std::vector<std::string> not_frontal_chest_reasons(const GrayImage& img) {
  std::vector<std::string> w;
  if (!is_radiograph_modality(img.modality))
    w.push_back("DICOM Modality " + img.modality + " is not CR/DX (a radiograph)");
  if (!is_chest_body_part(img.body_part)) w.push_back("DICOM BodyPartExamined " + img.body_part + " is not CHEST");
  if (const std::string view = non_frontal_view(img.view_position); !view.empty())
    w.push_back("DICOM ViewPosition " + img.view_position + " is " + view + " (the models read frontal views)");
  if (!img.photometric.empty() && img.photometric.rfind("MONOCHROME", 0) != 0)
    w.push_back("photometric interpretation " + img.photometric + " is not a grayscale radiograph");
  if (img.width < 64 || img.height < 64)
    w.push_back("image is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                " pixels, too small for a radiograph");
  return w;
}

ImageFormat sniff_image_format(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path + ": no such file");
  if (fs::is_directory(path, ec)) throw InputError(path + ": is a folder, not an image");
  // A FIFO or device would block the reader forever.
  if (!fs::is_regular_file(path, ec)) throw InputError(path + ": not a regular file (a pipe or device?)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open for reading");
  unsigned char b[132] = {0};
  in.read(reinterpret_cast<char*>(b), sizeof b);
  const auto n = static_cast<size_t>(in.gcount());
  if (n == 0) throw InputError(path + ": empty file");
  // DICOM first: a DICOM preamble may itself hold a TIFF header (dual-format files).
  if (n >= 132 && std::memcmp(b + 128, "DICM", 4) == 0) return ImageFormat::Dicom;
  if (n >= 8 && std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::Png;
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return ImageFormat::Jpeg;
  if (n >= 4 && (std::memcmp(b, "II*\0", 4) == 0 || std::memcmp(b, "MM\0*", 4) == 0)) return ImageFormat::Tiff;
  if (n >= 2 && b[0] == 'B' && b[1] == 'M') return ImageFormat::Bmp;
  // DICOM without preamble (old ACR-NEMA style): a dataset that opens with a group
  // 0002 or 0008 tag, little endian. Other files named .dcm go to the DICOM reader too,
  // so that the error message comes from it.
  if (n >= 4 && (b[0] == 0x02 || b[0] == 0x08) && b[1] == 0x00) return ImageFormat::Dicom;
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".dcm" || ext == ".dicom") return ImageFormat::Dicom;
  return ImageFormat::Unknown;
}

namespace {
uint32_t be16(const unsigned char* p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t be32(const unsigned char* p) { return (be16(p) << 16) | be16(p + 2); }
uint32_t le16(const unsigned char* p) { return (uint32_t(p[1]) << 8) | p[0]; }
uint32_t le32(const unsigned char* p) { return (le16(p + 2) << 16) | le16(p); }
}  // namespace

bool header_dimensions(ImageFormat format, const std::string& bytes, long long* width, long long* height) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  switch (format) {
    case ImageFormat::Png:  // signature, then the IHDR chunk: length, "IHDR", width, height
      if (n < 24 || std::memcmp(b + 12, "IHDR", 4) != 0) return false;
      *width = be32(b + 16);
      *height = be32(b + 20);
      return true;
    case ImageFormat::Jpeg:  // the first start-of-frame marker (C0-CF, but C4 DHT, C8 JPG, CC DAC)
      for (size_t i = 2; i + 9 < n;) {
        if (b[i] != 0xFF) return false;
        const unsigned char m = b[i + 1];
        if (m == 0xFF) { ++i; continue; }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) { i += 2; continue; }
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
          *height = be16(b + i + 5);
          *width = be16(b + i + 7);
          return true;
        }
        if (m == 0xDA || m == 0xD9) return false;  // scan data or the end before any frame header
        i += 2 + be16(b + i + 2);
      }
      return false;
    case ImageFormat::Bmp:  // BITMAPINFOHEADER: width and (signed: top-down when negative) height
      if (n < 26) return false;
      *width = static_cast<int32_t>(le32(b + 18));
      *height = std::llabs(static_cast<int32_t>(le32(b + 22)));
      return true;
    case ImageFormat::Tiff: {  // the first IFD's ImageWidth (256) and ImageLength (257)
      if (n < 8) return false;
      const bool le = b[0] == 'I';
      auto u16 = [&](size_t at) { return le ? le16(b + at) : be16(b + at); };
      auto u32 = [&](size_t at) { return le ? le32(b + at) : be32(b + at); };
      const size_t ifd = u32(4);
      if (ifd + 2 > n) return false;
      const size_t entries = u16(ifd);
      bool w = false, h = false;
      for (size_t e = 0; e < entries && ifd + 2 + 12 * (e + 1) <= n; ++e) {
        const size_t at = ifd + 2 + 12 * e;
        const uint32_t tag = u16(at), type = u16(at + 2);
        const long long value = type == 3 ? u16(at + 8) : u32(at + 8);  // SHORT or LONG
        if (tag == 256) { *width = value; w = true; }
        if (tag == 257) { *height = value; h = true; }
      }
      return w && h;
    }
    default:
      return false;
  }
}

void check_pixel_limit(const std::string& path, long long width, long long height, long long frames) {
  const long long limit = max_image_pixels();
  const double pixels = static_cast<double>(width) * static_cast<double>(height) * static_cast<double>(std::max(1LL, frames));
  if (width < 0 || height < 0 || pixels > static_cast<double>(limit))
    throw InputError(path + ": " + std::to_string(width) + " x " + std::to_string(height) +
                     (frames > 1 ? " x " + std::to_string(frames) + " frames" : std::string()) +
                     " pixels exceed the limit of " + std::to_string(limit) +
                     " (refused before decoding; raise it with osteofm --max-pixels N)");
}

#if OSTEOFM_WITH_IMAGE_IO

namespace {
// libjpeg decodes a truncated JPEG with a warning and grey fill; refuse it instead.
void require_jpeg_end(const std::string& path, const std::string& bytes) {
  size_t end = bytes.size();
  while (end > 2 && bytes[end - 1] == '\0') --end;  // some writers pad with zeros
  if (end < 4 || static_cast<unsigned char>(bytes[end - 2]) != 0xFF || static_cast<unsigned char>(bytes[end - 1]) != 0xD9)
    throw InputError(path + ": truncated JPEG (no end-of-image marker)");
}

// A PNG ends with its IEND chunk; checking first keeps libpng from printing its own
// error lines and makes the reason precise.
void require_png_end(const std::string& path, const std::string& bytes) {
  static const char iend[] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', '\xAE', 'B', '`', '\x82'};
  if (bytes.size() < 12 + 8 || bytes.compare(bytes.size() - 12, 12, std::string(iend, 12)) != 0)
    throw InputError(path + ": cannot decode PNG: truncated file (no IEND chunk at the end)");
}

// `rgb`: a 3-channel m is in RGB order (our decoders), not OpenCV's BGR.
GrayImage from_mat(const std::string& path, cv::Mat m, ImageFormat format, bool rgb = false, int stored_channels = 0) {
  const int channels = stored_channels > 0 ? stored_channels : m.channels();
  if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2GRAY);
  else if (m.channels() == 3) cv::cvtColor(m, m, rgb ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY);
  else if (m.channels() != 1) throw InputError(path + ": " + std::to_string(m.channels()) + " channels, expected grayscale or RGB");
  GrayImage img;
  img.channels = channels;
  img.format = format;
  img.width = m.cols;
  img.height = m.rows;
  double scale = 1.0;
  switch (m.depth()) {
    case CV_8U: img.source_bits = 8; scale = 1.0 / 255.0; break;
    case CV_16U: img.source_bits = 16; scale = 1.0 / 65535.0; break;
    case CV_32F: img.source_bits = 32; break;
    default: throw InputError(path + ": unsupported sample type (expected 8 or 16 bit unsigned, or float)");
  }
  cv::Mat f;
  m.convertTo(f, CV_32F, scale);
  if (m.depth() == CV_32F) {
    double lo, hi;
    cv::minMaxLoc(f, &lo, &hi);
    if (!(lo >= 0.0 && hi <= 1.0)) throw InputError(path + ": floating-point image values must lie in [0,1]");
  }
  img.pixels.assign(f.ptr<float>(), f.ptr<float>() + f.total());
  if (!f.isContinuous()) throw RuntimeFailure(path + ": internal: non-continuous image");
  return img;
}
}  // namespace

GrayImage read_image(const std::string& path) {
  const ImageFormat format = sniff_image_format(path);
  if (format == ImageFormat::Dicom) return read_dicom(path);
  if (format == ImageFormat::Unknown)
    throw InputError(path + ": unknown image format (expected PNG, JPEG, TIFF, BMP or DICOM)");
  const std::string bytes = read_file(path);
  if (long long w = 0, h = 0; header_dimensions(format, bytes, &w, &h)) check_pixel_limit(path, w, h);
  if (format == ImageFormat::Jpeg) require_jpeg_end(path, bytes);
  if (format == ImageFormat::Png) require_png_end(path, bytes);
  if (format == ImageFormat::Jpeg || format == ImageFormat::Png) {
    // Our own handlers: the codec's words become a warning or this error, never stderr text.
    DecodedRaster d = format == ImageFormat::Jpeg ? decode_jpeg(path, bytes) : decode_png(path, bytes);
    if (!d.mat.empty()) {
      GrayImage img = from_mat(path, d.mat, format, /*rgb=*/true, d.stored_channels);
      for (const auto& w : d.warnings)
        img.decoder_warnings.push_back(std::string("damaged ") + format_name(format) + " data decoded anyway (" + w + ")");
      return img;
    }
  }
  cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat m;
  try {
    m = cv::imdecode(raw, cv::IMREAD_UNCHANGED | cv::IMREAD_ANYDEPTH);
  } catch (const cv::Exception& e) {
    throw InputError(path + ": cannot decode " + format_name(format) + ": " + e.what());
  }
  if (m.empty()) throw InputError(path + ": cannot decode " + std::string(format_name(format)) + " (corrupt or truncated file)");
  return from_mat(path, m, format);
}

void write_png(const std::string& path, const GrayImage& image, int bits) {
  if (bits != 8 && bits != 16) throw RuntimeFailure("write_png: bits must be 8 or 16");
  cv::Mat f(image.height, image.width, CV_32F, const_cast<float*>(image.pixels.data()));
  cv::Mat q;
  f.convertTo(q, bits == 16 ? CV_16U : CV_8U, bits == 16 ? 65535.0 : 255.0);  // saturating, rounded
  write_png_atomic(path, q);
}

void write_png_u8(const std::string& path, int width, int height, const std::vector<uint8_t>& values) {
  write_png_atomic(path, cv::Mat(height, width, CV_8U, const_cast<uint8_t*>(values.data())));
}

std::vector<uint8_t> read_png_u8(const std::string& path, int* width, int* height) {
  const std::string bytes = read_file(path);
  if (sniff_image_format(path) != ImageFormat::Png) throw InputError(path + ": a mask must be a PNG");
  if (long long w = 0, h = 0; header_dimensions(ImageFormat::Png, bytes, &w, &h)) check_pixel_limit(path, w, h);
  require_png_end(path, bytes);
  const DecodedRaster d = decode_png(path, bytes);
  const cv::Mat& m = d.mat;
  if (m.depth() != CV_8U) throw InputError(path + ": mask must be 8-bit");
  if (m.channels() != 1 || d.stored_channels != 1) throw InputError(path + ": mask must have one channel");
  if (!d.warnings.empty()) throw InputError(path + ": damaged mask PNG: " + d.warnings.front());
  *width = m.cols;
  *height = m.rows;
  return std::vector<uint8_t>(m.datastart, m.dataend);
}

std::string opencv_version() { return CV_VERSION; }
void set_image_io_threads(int threads) { cv::setNumThreads(threads); }
int image_io_threads() { return cv::getNumThreads(); }

#else  // no image I/O in this build

static InputError no_image_io(const std::string& path) {
  return InputError(path + ": this osteofm was built without image decoding (OSTEOFM_WITH_IMAGE_IO=OFF); "
                           "decode on a full build with 'osteofm data cache' and use the cache");
}
GrayImage read_image(const std::string& path) { throw no_image_io(path); }
GrayImage read_dicom(const std::string& path) { throw no_image_io(path); }
DicomHeader read_dicom_header(const std::string& path) { throw no_image_io(path); }
void write_png(const std::string& path, const GrayImage&, int) { throw no_image_io(path); }
void write_png_u8(const std::string& path, int, int, const std::vector<uint8_t>&) { throw no_image_io(path); }
std::vector<uint8_t> read_png_u8(const std::string& path, int*, int*) { throw no_image_io(path); }
std::string opencv_version() { return ""; }
void set_image_io_threads(int) {}
int image_io_threads() { return 0; }
std::string dcmtk_version() { return ""; }
std::string gdcm_version() { return ""; }

#endif

}  // namespace osteofm
