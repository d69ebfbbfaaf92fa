// Radiograph decoding: PNG/JPEG/TIFF (8 or 16 bit) through OpenCV, DICOM through DCMTK
// (with GDCM for JPEG 2000). Every reader returns a grayscale float image in [0,1]
// whose scale respects the stored bit depth, with bone bright.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace osteofm {

enum class ImageFormat { Unknown, Png, Jpeg, Tiff, Bmp, Dicom };
const char* format_name(ImageFormat format);

struct GrayImage {
  int width = 0, height = 0;
  int source_bits = 8;        // bits per sample as stored (DICOM BitsStored)
  ImageFormat format = ImageFormat::Unknown;
  std::string voi;            // DICOM: "window", "lut" or "range" (no VOI: full modality range)
  int channels = 1;           // as stored: 3 or 4 for colour files (converted to grayscale)
  // DICOM attributes that tell what the image is (empty when absent or not DICOM).
  std::string modality, body_part, view_position, photometric, sop_instance_uid, patient_id;
  std::string accession, study_date;  // AccessionNumber, StudyDate (YYYYMMDD as stored)
  // What the decoder said of data it decoded anyway (damaged JPEG/PNG data, an unknown DICOM
  // transfer syntax), one sentence each.
  std::vector<std::string> decoder_warnings;
  std::vector<float> pixels;  // row-major, height x width, values in [0,1]
  float at(int x, int y) const { return pixels[static_cast<size_t>(y) * width + x]; }
};

// True when this build decodes images (CMake OSTEOFM_WITH_IMAGE_IO=ON).
inline bool image_io_available() { return OSTEOFM_WITH_IMAGE_IO != 0; }

// Format from the file's first bytes (and the .dcm extension for DICOM without a
// preamble). Throws InputError if the file is missing or unreadable.
ImageFormat sniff_image_format(const std::string& path);

// Width and height as the file's header states them (PNG IHDR, JPEG SOF, TIFF's first
// IFD, BMP's info header), read without decoding; false when the header says nothing.
bool header_dimensions(ImageFormat format, const std::string& bytes, long long* width, long long* height);
// InputError naming the file when width x height x frames exceeds max_image_pixels()
// (core/limits.hpp, `osteofm --max-pixels`).
void check_pixel_limit(const std::string& path, long long width, long long height, long long frames = 1);

// Decodes any supported file. Throws InputError("<path>: <reason>") when the file is
// missing, truncated, corrupt or in an unsupported encoding.
GrayImage read_image(const std::string& path);

// DICOM alone: modality LUT (rescale or LUT sequence), VOI (LUT sequence first, else the
// first window, else the full modality range), MONOCHROME1 inverted.
GrayImage read_dicom(const std::string& path);

// Why the image may not be a frontal chest radiograph: DICOM Modality other than CR/DX,
// BodyPartExamined other than CHEST, a lateral or oblique ViewPosition, a colour or non-MONOCHROME
// photometric interpretation, a colour file, an image too small to be a radiograph. Empty
// when nothing is suspicious. (A model scores any image it is given; these say when its
// probabilities mean little.)
std::vector<std::string> radiograph_warnings(const GrayImage& image);
// The part of those that says the image is not a frontal chest radiograph at all (the
// DICOM attributes, a non-grayscale photometric interpretation, too few pixels), as opposed
// to doubts about a radiograph (damaged data decoded anyway, a colour file of a film):
// what reproduce's prepare leaves out and predict does not score without --score-anyway.
std::vector<std::string> not_frontal_chest_reasons(const GrayImage& image);
// The rest of radiograph_warnings: doubts about a radiograph that is still read.
std::vector<std::string> image_doubts(const GrayImage& image);

// The DICOM attribute checks behind those warnings and the image index's (any case; an
// empty value is unknown and passes): Modality CR or DX, BodyPartExamined CHEST, and a
// ViewPosition that is not frontal ("lateral": LL, RL, LLD, RLD, LAT, LATERAL; "oblique":
// LLO, RLO; "" otherwise).
bool is_radiograph_modality(const std::string& modality);
bool is_chest_body_part(const std::string& body_part);
std::string non_frontal_view(const std::string& view_position);

// Writes a 16-bit (bits=16) or 8-bit grayscale PNG atomically from values in [0,1].
void write_png(const std::string& path, const GrayImage& image, int bits = 16);
// Writes raw 8-bit labels (region masks) as a PNG, atomically.
void write_png_u8(const std::string& path, int width, int height, const std::vector<uint8_t>& values);
// Reads an 8-bit single-channel PNG (region masks) without any scaling.
std::vector<uint8_t> read_png_u8(const std::string& path, int* width, int* height);

// Library versions for `osteofm doctor` ("" when built without image I/O).
std::string opencv_version();
std::string dcmtk_version();
std::string gdcm_version();
// Threads OpenCV may use for the decoders' resizes and colour conversions (no-op without image I/O).
void set_image_io_threads(int threads);
int image_io_threads();  // OpenCV's threads; 0 without image I/O

}  // namespace osteofm
