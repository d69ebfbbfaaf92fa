#include "about.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/provenance.hpp"
#include "core/runtime.hpp"
#include "io/image.hpp"

namespace osteofm::cli {

void configure_threads(int threads) {
  set_threads(threads);
  // The count asked for (all cores for 0), not LibTorch's intra-op count: with OpenBLAS that
  // is 1 (core/runtime.hpp), and OpenCV's pool is no BLAS.
  set_image_io_threads(resolve_threads(0));
}

void record_process(int argc, char** argv) {
  set_command_line(argc, argv);
  set_process_facts([] {
    return nlohmann::json{{"libtorch", torch_version()},     {"cuda_devices", cuda_device_count()},
                          {"threads", resolve_threads(0)},   {"blas", detect_blas().library},
                          {"image_io", image_io_available()}, {"opencv", opencv_version()},
                          {"dcmtk", dcmtk_version()},         {"gdcm", gdcm_version()}};
  });
}

std::string version_line() {
  return std::string("osteofm ") + OSTEOFM_VERSION + " commit " + osteofm_commit() + " (LibTorch " + torch_version() +
         (torch::cuda::is_available() ? ", CUDA" : ", CPU") + (image_io_available() ? ", image I/O" : ", no image I/O") + ")";
}

nlohmann::json doctor_report() {
  nlohmann::json j;
  j["osteofm"] = OSTEOFM_VERSION;
  j["libtorch"] = torch_version();
  j["threads"] = at::get_num_threads();
  j["image_io_threads"] = image_io_threads();
  j["hardware_threads"] = hardware_threads();
  const int ncuda = cuda_device_count();
  j["cuda_devices"] = ncuda;
  nlohmann::json devs = nlohmann::json::array();
  for (int i = 0; i < ncuda; ++i) devs.push_back("cuda:" + std::to_string(i));
  j["devices"] = devs;
  const BlasInfo blas = detect_blas();
  j["blas"] = {{"library", blas.library}, {"kind", blas.kind}, {"slow", blas.slow}, {"threading", blas.threading},
               {"threads", blas.threads}};
  {
    torch::NoGradGuard ng;
    auto a = torch::randn({512, 512});
    auto b = torch::randn({512, 512});
    (void)torch::mm(a, b);  // warm-up
    const int reps = 10;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) (void)torch::mm(a, b);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    j["gemm_gflops"] = 2.0 * 512 * 512 * 512 * reps / s / 1e9;
  }
  j["image_io"] = image_io_available();
  j["opencv"] = opencv_version();
  j["dcmtk"] = dcmtk_version();
  j["gdcm"] = gdcm_version();
  return j;
}

}  // namespace osteofm::cli
