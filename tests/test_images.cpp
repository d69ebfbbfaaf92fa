#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "core/error.hpp"
#include "io/image.hpp"
#include "data/duplicates.hpp"
#include "core/limits.hpp"
#include "support.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

TEST_CASE("images: every public PNG/JPEG decodes with the size, depth and range MANIFEST.csv records", "[image][image_io]") {
  const std::string root = shared("data/public-cxr");
  CsvTable t = parse_csv(read_text(root + "/MANIFEST.csv"), "MANIFEST.csv");
  const int c_file = t.column("file"), c_props = t.column("properties");
  int images = 0;
  for (const auto& rec : t.records) {
    json p = json::parse(rec.fields[c_props]);
    if (p["kind"] != "image") continue;
    const std::string path = root + "/" + rec.fields[c_file];
    INFO(path);
    GrayImage img = read_image(path);
    ++images;
    CHECK(img.width == p["width"].get<int>());
    CHECK(img.height == p["height"].get<int>());
    CHECK(img.source_bits == p["bit_depth"].get<int>());
    if (p["mode"] == "L") {
      const auto [lo, hi] = std::minmax_element(img.pixels.begin(), img.pixels.end());
      // PNG is lossless: exact. JPEG: another libjpeg build may round an IDCT differently.
      const double tol = p["format"] == "PNG" ? 0.0 : 2.0;
      CHECK(std::fabs(*lo * 255.0 - p["min"].get<double>()) <= tol + 1e-3);
      CHECK(std::fabs(*hi * 255.0 - p["max"].get<double>()) <= tol + 1e-3);
    }
  }
  CHECK(images == 56);  // 36 radiographs and 20 lung masks
}

TEST_CASE("DICOM: modality LUT, VOI and MONOCHROME1 match pydicom's independent values", "[dicom][image_io]") {
  const json golden = json::parse(read_text(source("tests/data/dicom_golden.json")));
  const std::string root = shared("data/public-cxr/dicom");
  int files = 0;
  for (const auto& [rel, g] : golden["files"].items()) {
    INFO(rel);
    GrayImage img = read_image(root + "/" + rel);
    ++files;
    REQUIRE(img.height == g["rows"].get<int>());
    REQUIRE(img.width == g["cols"].get<int>());
    CHECK(img.voi == g["voi"].get<std::string>());
    // 16-bit output quantisation is 1.5e-5. Lossy JPEG baseline: DCMTK's own IJG 6b
    // decoder and the reference's libjpeg-turbo round the IDCT differently (mean 0.6
    // grey levels of 255 apart on this image, at most 2 at the sampled points).
    const bool lossy8 = rel.find("siim-acr") != std::string::npos;
    const double tol = lossy8 ? 2.5 / 255.0 : 2e-4;
    double mean = 0;
    for (float v : img.pixels) mean += v;
    mean /= img.pixels.size();
    CHECK(std::fabs(mean - g["mean"].get<double>()) < (lossy8 ? 3e-3 : 1e-4));
    for (int i = 0; i < 7; ++i)
      for (int j = 0; j < 7; ++j) {
        const int y = static_cast<int>((i + 0.5) * img.height / 7), x = static_cast<int>((j + 0.5) * img.width / 7);
        CHECK(std::fabs(img.at(x, y) - g["grid7"][i][j].get<double>()) <= tol);
      }
  }
  CHECK(files == 11);
}

TEST_CASE("DICOM: lossless codecs agree, MONOCHROME1 inverts, bit depth is kept", "[dicom][image_io]") {
  const std::string root = shared("data/public-cxr/dicom");
  GrayImage jpll = read_image(root + "/nema-wg04/RG2_JPLL.dcm");
  GrayImage rle = read_image(root + "/nema-wg04/RG2_RLE.dcm");
  CHECK(jpll.pixels == rle.pixels);  // same image, two lossless encodings
  CHECK(jpll.source_bits == 10);

  GrayImage mono2 = read_image(root + "/siim-acr-via-torchxrayvision/1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm");
  GrayImage fake1 = read_image(root + "/siim-acr-via-torchxrayvision/Fake_MONOHR1.dcm");
  REQUIRE(mono2.pixels.size() == fake1.pixels.size());
  double max_diff = 0;
  for (size_t i = 0; i < mono2.pixels.size(); ++i)
    max_diff = std::max(max_diff, std::fabs(double(fake1.pixels[i]) - (1.0 - mono2.pixels[i])));
  CHECK(max_diff < 1e-4);

  GrayImage chest = read_image(root + "/classic-samples/CR-MONO1-10-chest.dcm");  // no preamble, no meta
  CHECK(chest.source_bits == 10);
  CHECK(chest.voi == "window");
  GrayImage j2k = read_image(root + "/nema-wg04/RG1_J2KI.dcm");  // through GDCM/OpenJPEG
  CHECK(j2k.source_bits == 15);
}

TEST_CASE("DICOM: malformed files are one-line input errors naming the file", "[dicom][image_io]") {
  const std::string root = shared("data/public-cxr/dicom/malformed");
  for (const std::string name : {"MR_truncated.dcm", "no_meta.dcm", "emri_small_jpeg_2k_lossless_too_short.dcm"}) {
    INFO(name);
    try {
      read_image(root + "/" + name);
      FAIL("decoded a malformed file");
    } catch (const InputError& e) {
      const std::string msg = e.what();
      CHECK(msg.find(name) != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
    }
  }
  // DCMTK notices the short element while parsing; the reason must say the file ends early.
  CHECK_THROWS_WITH(read_image(root + "/MR_truncated.dcm"), Catch::Contains("premature end of stream"));
}

TEST_CASE("images: truncated or fake files are refused, never half-decoded", "[image][image_io]") {
  TempDir dir;
  const std::string jpg = read_text(shared("data/public-cxr/covid-chestxray-dataset/images/2168a917.jpg"));
  write_text(dir / "cut.jpg", jpg.substr(0, jpg.size() * 2 / 3));
  CHECK_THROWS_WITH(read_image(dir / "cut.jpg"), Catch::Contains("cut.jpg: truncated JPEG"));
  const std::string png = read_text(shared("data/public-cxr/nih-chestxray14/00000002_000.png"));
  write_text(dir / "cut.png", png.substr(0, png.size() / 3));
  CHECK_THROWS_WITH(read_image(dir / "cut.png"), Catch::Contains("cut.png: cannot decode PNG"));
  write_text(dir / "notes.txt", "not an image");
  CHECK_THROWS_WITH(read_image(dir / "notes.txt"), Catch::Contains("notes.txt: unknown image format"));
  write_text(dir / "fake.dcm", std::string(300, 'x'));
  CHECK_THROWS_WITH(read_image(dir / "fake.dcm"), Catch::Contains("fake.dcm: not a readable DICOM file"));
  CHECK_THROWS_WITH(read_image(dir / "absent.png"), Catch::Contains("absent.png: no such file"));
}

#if OSTEOFM_WITH_IMAGE_IO
namespace {
// A copy of `src` with `from` (its first occurrence) replaced by `to` of the same length.
std::string patched(const std::string& src, const std::string& from, const std::string& to) {
  REQUIRE(from.size() == to.size());
  std::string out = src;
  const size_t at = out.find(from);
  REQUIRE(at != std::string::npos);
  out.replace(at, from.size(), to);
  return out;
}
}  // namespace

TEST_CASE("images: JPEG and PNG decode to OpenCV's pixels exactly, every public file", "[image][image_io]") {
  // libjpeg and libpng are called directly (for their messages); the pixels must stay those
  // OpenCV's imdecode gave, colour files (RGB -> grey) and 16-bit PNGs included.
  size_t compared = 0;
  for (const auto& e : fs::recursive_directory_iterator(shared("data/public-cxr"))) {
    const std::string ext = e.path().extension().string();
    if (ext != ".png" && ext != ".jpg" && ext != ".jpeg") continue;
    INFO(e.path().string());
    const GrayImage ours = read_image(e.path().string());
    cv::Mat m = cv::imread(e.path().string(), cv::IMREAD_UNCHANGED | cv::IMREAD_ANYDEPTH);
    REQUIRE(!m.empty());
    if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2GRAY);
    else if (m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_BGR2GRAY);
    cv::Mat f;
    m.convertTo(f, CV_32F, m.depth() == CV_16U ? 1.0 / 65535.0 : 1.0 / 255.0);
    REQUIRE(ours.width == f.cols);
    REQUIRE(ours.height == f.rows);
    size_t differ = 0;
    for (int y = 0; y < f.rows; ++y)
      for (int x = 0; x < f.cols; ++x) differ += ours.at(x, y) != f.at<float>(y, x);
    CHECK(differ == 0);
    CHECK(ours.decoder_warnings.empty());
    ++compared;
  }
  CHECK(compared == 56);
}

TEST_CASE("images: damaged data the codec decodes anyway is a warning, codec words never reach stderr", "[image][cli][image_io]") {
  TempDir dir;
  // Entropy-coded bytes scrambled mid-file, the end marker intact: libjpeg decodes with
  // "Corrupt JPEG data" warnings (which it used to print on stderr; OpenCV carried on).
  std::string jpg = read_text(shared("data/public-cxr/covid-chestxray-dataset/images/2168a917.jpg"));
  for (size_t i = jpg.size() / 2; i < jpg.size() / 2 + 40; ++i) jpg[i] = static_cast<char>(i % 7 == 0 ? 0xFF : jpg[i] ^ 0x5A);
  write_text(dir / "scrambled.jpg", jpg);
  const GrayImage j = read_image(dir / "scrambled.jpg");
  REQUIRE_FALSE(j.decoder_warnings.empty());
  CHECK_THAT(j.decoder_warnings[0], Catch::StartsWith("damaged JPEG data decoded anyway (Corrupt JPEG data"));
  CHECK_THAT(radiograph_warnings(j)[0], Catch::StartsWith("damaged JPEG data"));
  // A PNG row filter byte broken: libpng's error, in our message.
  std::string png = read_text(shared("data/public-cxr/nih-chestxray14/torchxrayvision-512/00000001_000.png"));
  png[200] = static_cast<char>(png[200] ^ 0xFF);
  write_text(dir / "badfilter.png", png);
  CHECK_THROWS_WITH(read_image(dir / "badfilter.png"), Catch::StartsWith((dir / "badfilter.png") + ": cannot decode PNG: "));
  // Through the CLI: the damaged file is reported by data check, and no codec words
  // (libjpeg's "Corrupt JPEG data", "libpng error") start a line of their own.
  write_text(dir / "manifest.csv", "image_id,patient_id,path,label,split\n"
                                   "a,pa,scrambled.jpg,normal,train\nb,pb,badfilter.png,osteopenia,train\n");
  const CliResult check = run_osteofm("data check '" + (dir / "manifest.csv") + "' --decode");
  INFO(check.out << check.err);
  const std::string all = "\n" + check.out + check.err;
  CHECK_THAT(all, Catch::Contains("damaged JPEG data decoded anyway"));
  CHECK_THAT(all, Catch::Contains("badfilter.png: cannot decode PNG"));
  CHECK(all.find("\nCorrupt JPEG") == std::string::npos);
  CHECK(all.find("\nlibpng") == std::string::npos);
}

TEST_CASE("DICOM: an unknown transfer syntax is read by detection with a warning, or refused when not native", "[dicom][image_io]") {
  TempDir dir;
  // Native explicit little endian under a UID DCMTK does not know: read, and said.
  const std::string native = read_text(shared("data/public-cxr/dicom/pydicom/mlut_18.dcm"));
  write_text(dir / "native.dcm", patched(native, "1.2.840.10008.1.2.1", "1.2.826.0.1.9999999"));
  const GrayImage reference = read_image(shared("data/public-cxr/dicom/pydicom/mlut_18.dcm"));
  const GrayImage n = read_image(dir / "native.dcm");
  CHECK(reference.decoder_warnings.empty());
  REQUIRE(n.decoder_warnings.size() == 1);
  CHECK_THAT(n.decoder_warnings[0], Catch::StartsWith("unknown DICOM transfer syntax 1.2.826.0.1.9999999, read as"));
  CHECK(n.pixels == reference.pixels);
  // JPEG baseline under an unknown UID: nothing native to read; the message names the UID.
  const std::string jpeg = read_text(shared("data/public-cxr/dicom/siim-acr-via-torchxrayvision/Fake_MONOHR1.dcm"));
  write_text(dir / "encapsulated.dcm", patched(jpeg, "1.2.840.10008.1.2.4.50", "1.2.826.0.1.9999999.99"));
  CHECK_THROWS_WITH(read_image(dir / "encapsulated.dcm"),
                    Catch::Contains("encapsulated.dcm: unknown DICOM transfer syntax 1.2.826.0.1.9999999.99"));
}
#endif

TEST_CASE("images: 16-bit PNG round trip keeps 16-bit precision", "[image][image_io]") {
  TempDir dir;
  GrayImage img;
  img.width = 37;
  img.height = 23;
  for (int i = 0; i < img.width * img.height; ++i) img.pixels.push_back(static_cast<float>(i % 4096) / 4095.0f);
  write_png(dir / "x16.png", img, 16);
  GrayImage back = read_image(dir / "x16.png");
  CHECK(back.source_bits == 16);
  REQUIRE(back.pixels.size() == img.pixels.size());
  for (size_t i = 0; i < img.pixels.size(); ++i) CHECK(std::fabs(back.pixels[i] - img.pixels[i]) <= 0.5 / 65535.0 + 1e-7);
}

namespace {
// A minimal baseline TIFF writer (uncompressed, one strip, little endian), written here
// independently of OpenCV so the reader is checked against another encoder.
std::string tiff_gray(int w, int h, int bits, const std::vector<uint16_t>& v) {
  std::string f;
  auto u16 = [&](uint16_t x) { f.push_back(char(x & 0xFF)); f.push_back(char(x >> 8)); };
  auto u32 = [&](uint32_t x) { for (int i = 0; i < 4; ++i) f.push_back(char((x >> (8 * i)) & 0xFF)); };
  const uint32_t data_bytes = static_cast<uint32_t>(w * h * bits / 8);
  f += "II";
  u16(42);
  u32(8 + data_bytes);  // IFD after the pixel data
  for (uint16_t x : v) {
    if (bits == 16) u16(x);
    else f.push_back(char(x));
  }
  const std::vector<std::array<uint32_t, 3>> tags = {{256, 3, uint32_t(w)}, {257, 3, uint32_t(h)}, {258, 3, uint32_t(bits)},
                                                     {259, 3, 1}, {262, 3, 1}, {273, 4, 8}, {277, 3, 1},
                                                     {278, 3, uint32_t(h)}, {279, 4, data_bytes}};
  u16(static_cast<uint16_t>(tags.size()));
  for (const auto& t : tags) {
    u16(static_cast<uint16_t>(t[0]));
    u16(static_cast<uint16_t>(t[1]));
    u32(1);
    if (t[1] == 3) { u16(static_cast<uint16_t>(t[2])); u16(0); }
    else u32(t[2]);
  }
  u32(0);
  return f;
}
}  // namespace

TEST_CASE("images: 8- and 16-bit TIFF keep their scale", "[image][image_io]") {
  TempDir dir;
  std::vector<uint16_t> v16 = {0, 1000, 32768, 65535, 12, 40000};
  write_text(dir / "g16.tif", tiff_gray(3, 2, 16, v16));
  GrayImage a = read_image(dir / "g16.tif");
  REQUIRE(a.width == 3);
  REQUIRE(a.height == 2);
  CHECK(a.source_bits == 16);
  CHECK(a.format == ImageFormat::Tiff);
  for (size_t i = 0; i < v16.size(); ++i) CHECK(a.pixels[i] == Approx(v16[i] / 65535.0).margin(1e-7));
  std::vector<uint16_t> v8 = {0, 17, 128, 255, 3, 200};
  write_text(dir / "g8.tif", tiff_gray(3, 2, 8, v8));
  GrayImage b = read_image(dir / "g8.tif");
  CHECK(b.source_bits == 8);
  for (size_t i = 0; i < v8.size(); ++i) CHECK(b.pixels[i] == Approx(v8[i] / 255.0).margin(1e-7));
}

#if OSTEOFM_WITH_IMAGE_IO
TEST_CASE("images: a header claiming more pixels than --max-pixels is refused before decoding", "[images][limits]") {
  TempDir dir;
  cv::Mat small(8, 8, CV_8UC1, cv::Scalar(100));
  auto encoded = [&](const char* ext) {
    std::vector<uchar> buf;
    REQUIRE(cv::imencode(ext, small, buf));
    return std::string(buf.begin(), buf.end());
  };
  // A JPEG whose frame header says 60000 x 60000 (a few hundred bytes; libjpeg would
  // allocate 3.6 GB before finding no data for it).
  std::string jpeg = encoded(".jpg");
  const size_t sof = jpeg.find("\xFF\xC0");
  REQUIRE(sof != std::string::npos);
  jpeg[sof + 5] = jpeg[sof + 7] = static_cast<char>(0xEA);
  jpeg[sof + 6] = jpeg[sof + 8] = static_cast<char>(0x60);
  write_text(dir / "bomb.jpg", jpeg);
  long long w = 0, h = 0;
  REQUIRE(header_dimensions(ImageFormat::Jpeg, jpeg, &w, &h));
  CHECK(w == 60000);
  CHECK(h == 60000);
  CHECK_THROWS_WITH(read_image(dir / "bomb.jpg"), Catch::Contains("bomb.jpg: 60000 x 60000 pixels exceed the limit of 100000000"));
  // PNG (IHDR), TIFF (first IFD) and BMP (info header) state their size the same way.
  std::string png = encoded(".png");
  png[16] = png[20] = 0;
  png[17] = png[21] = 1;  // 65536 + ... : 0x0001xxxx on each side
  write_text(dir / "bomb.png", png);
  CHECK_THROWS_WITH(read_image(dir / "bomb.png"), Catch::Contains("pixels exceed the limit"));
  for (const char* ext : {".tiff", ".bmp"}) {
    long long tw = 0, th = 0;
    REQUIRE(header_dimensions(std::string(ext) == ".bmp" ? ImageFormat::Bmp : ImageFormat::Tiff, encoded(ext), &tw, &th));
    CHECK(tw == 8);
    CHECK(th == 8);
  }
  // The limit is the process's: a real DICOM (1760 x 2140) under a lowered one.
  const std::string dcm = shared("data/public-cxr/dicom/nema-wg04/RG2_RLE.dcm");
  set_max_image_pixels(1000000);
  CHECK_THROWS_WITH(read_image(dcm), Catch::Contains("1760 x 2140 pixels exceed the limit of 1000000"));
  set_max_image_pixels(kDefaultMaxImagePixels);
  CHECK(read_image(dcm).width == 1760);
}
#endif

TEST_CASE("duplicates: a film and its half-size copy are near copies, two patients' films are not", "[image][image_io]") {
  const std::string nih = shared("data/public-cxr/nih-chestxray14");
  const ImageFingerprint full = fingerprint(read_image(nih + "/00000001_000.png"));
  const ImageFingerprint half = fingerprint(read_image(nih + "/torchxrayvision-512/00000001_000.png"));
  const ImageFingerprint other = fingerprint(read_image(nih + "/00000002_000.png"));
  REQUIRE((full.valid && half.valid && other.valid));
  CHECK(full.exact != half.exact);
  CHECK(hamming_distance(full, half) <= kNearDuplicateBits);  // measured: 1 bit
  CHECK(hamming_distance(full, other) > 3 * kNearDuplicateBits);
  // One image in two lossless encodings: the same pixels, the same exact hash.
  const std::string wg04 = shared("data/public-cxr/dicom/nema-wg04");
  CHECK(fingerprint(read_image(wg04 + "/RG2_JPLL.dcm")).exact == fingerprint(read_image(wg04 + "/RG2_RLE.dcm")).exact);
  const auto pairs = find_duplicates({full, other, half});
  REQUIRE(pairs.size() == 1);
  CHECK((pairs[0].a == 0 && pairs[0].b == 2 && !pairs[0].exact));
}
