// data index throughput over a synthetic PACS export: N files laid out as
// patient/study/IMnnnn, hard links to the real DICOMs of public-cxr (copies when the
// filesystem refuses links), non-DICOM files among them. Prints one JSON line per thread
// count with files/s, and the baseline measured in the same run: decoding every file's
// pixels (what an index that opened images would cost). Then data link over 20,000 images
// x 30,000 DXA rows (synthetic, 10,000 patients).
//
//   osteofm_bench_index SHARED_DIR [--files 20000] [--threads 1,2]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/cohort_link.hpp"
#include "data/image_index.hpp"
#include "io/image.hpp"

using namespace osteofm;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: osteofm_bench_index SHARED_DIR [--files N] [--threads 1,2]\n");
    return 2;
  }
  const fs::path shared = argv[1];
  size_t n_files = 20000;
  std::vector<int> threads = {1, 2};
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--files") n_files = std::stoul(argv[i + 1]);
    else if (flag == "--threads") {
      threads.clear();
      std::string list = argv[i + 1];
      for (size_t p = 0; p < list.size();) {
        const size_t comma = list.find(',', p);
        threads.push_back(std::stoi(list.substr(p, comma - p)));
        p = comma == std::string::npos ? list.size() : comma + 1;
      }
    }
  }
  // The readable radiograph-like sources (the malformed files and the 16-bit CT aside).
  const std::vector<std::string> sources = {
      "nema-wg04/RG1_J2KI.dcm", "nema-wg04/RG2_JPLL.dcm", "nema-wg04/RG2_RLE.dcm", "classic-samples/CR-MONO1-10-chest.dcm",
      "fo-dicom/CR-ModalitySequenceLUT.dcm",
      "siim-acr-via-torchxrayvision/1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"};
  const fs::path tree = fs::temp_directory_path() / "osteofm_bench_index";
  fs::remove_all(tree);
  bool linked = true;
  for (size_t i = 0; i < n_files; ++i) {
    const fs::path dir = tree / ("P" + std::to_string(i / 20)) / ("S" + std::to_string(i / 5));
    fs::create_directories(dir);
    const fs::path dst = dir / ("IM" + std::to_string(i));
    if (i % 50 == 49) {  // a stray non-DICOM file (DICOMDIR listings, READMEs, thumbnails)
      std::FILE* f = std::fopen(dst.c_str(), "w");
      std::fputs("not an image\n", f);
      std::fclose(f);
      continue;
    }
    const fs::path src = shared / "data/public-cxr/dicom" / sources[i % sources.size()];
    std::error_code ec;
    if (linked) fs::create_hard_link(src, dst, ec);
    if (!linked || ec) {
      linked = false;
      fs::copy_file(src, dst);
    }
  }
  for (int t : threads) {
    ImageIndexOptions o;
    o.dicom_dir = tree.string();
    o.out = (fs::temp_directory_path() / "osteofm_bench_index.csv").string();
    o.threads = t;
    const ImageIndexSummary s = build_image_index(o);
    std::printf("%s\n", nlohmann::json{{"bench", "data_index"}, {"files", s.files}, {"threads", t},
                                       {"seconds", s.seconds}, {"files_per_s", s.files / s.seconds},
                                       {"hard_links", linked}}
                            .dump()
                            .c_str());
  }
  // Baseline: decoding the pixels of a sample of the same files, one thread.
  const size_t sample = std::min<size_t>(60, n_files);
  const auto t0 = std::chrono::steady_clock::now();
  size_t decoded = 0;
  for (size_t i = 0; i < sample; ++i) {
    if (i % 50 == 49) continue;
    read_dicom((shared / "data/public-cxr/dicom" / sources[i % sources.size()]).string());
    ++decoded;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s\n", nlohmann::json{{"bench", "decode_baseline"}, {"files", decoded}, {"threads", 1}, {"seconds", s},
                                     {"files_per_s", decoded / s}}
                          .dump()
                          .c_str());
  fs::remove_all(tree);

  // data link at the scale: 20,000 images of 10,000 patients, 3 DXA exams each.
  std::string images = "image_id,patient_id,path,study_date,modality,body_part,view_position,sex,status\n";
  std::string dxa = "patient_id,dxa_date,t_lumbar_spine,t_femoral_neck,t_total_hip\n";
  auto date = [](int day) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "20%02d-%02d-%02d", 5 + day / 336, 1 + (day / 28) % 12, 1 + day % 28);
    return std::string(buf);
  };
  for (int i = 0; i < 20000; ++i)
    images += "img" + std::to_string(i) + ",P" + std::to_string(i / 2) + ",x.dcm," + date((i * 37) % 4000) +
              ",DX,CHEST," + (i % 9 == 0 ? "LL" : "PA") + "," + (i % 7 == 0 ? "M" : "F") + ",ok\n";
  for (int i = 0; i < 30000; ++i)
    dxa += "P" + std::to_string(i / 3) + "," + date((i * 53) % 4000) + "," + std::to_string(-(i % 40) / 10.0) + ",," +
           std::to_string(-(i % 30) / 10.0) + "\n";
  CohortLinkOptions lo;
  lo.window_days = 180;
  lo.sex = "F";
  const auto l0 = std::chrono::steady_clock::now();
  const CohortLink link = link_cohort_text(images, "images.csv", dxa, "dxa.csv", lo);
  const double ls = std::chrono::duration<double>(std::chrono::steady_clock::now() - l0).count();
  std::printf("%s\n", nlohmann::json{{"bench", "data_link"}, {"images", 20000}, {"dxa_rows", 30000}, {"seconds", ls},
                                     {"kept", link.flow.n_out}}
                          .dump()
                          .c_str());
  return 0;
}
