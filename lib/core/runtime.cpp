#include "core/runtime.hpp"

#include "core/parallel.hpp"

#include <unistd.h>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.hpp"
#include "io/image.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/core.hpp>
#endif

namespace osteofm {
namespace fs = std::filesystem;

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void set_threads(int threads) {
  set_default_threads(threads);  // osteofm's own pools (bootstrap, phantom, loaders, data check)
  const int n = resolve_threads(0);
  at::set_num_threads(n);
#if OSTEOFM_WITH_IMAGE_IO
  cv::setNumThreads(n);
#endif
}

BlasInfo detect_blas() {
  {
    // Make sure LibTorch has called into BLAS, so the library is mapped.
    torch::NoGradGuard ng;
    auto a = torch::ones({64, 64});
    (void)torch::mm(a, a).sum().item<float>();
  }
  BlasInfo info;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto pos = line.find('/');
    if (pos == std::string::npos) continue;
    std::string file = line.substr(pos);
    std::string name = fs::path(file).filename().string();
    bool blas_like = name.find("blas") != std::string::npos || name.find("mkl_rt") != std::string::npos ||
                     name.find("libmkl") != std::string::npos;
    if (!blas_like || name.find("cublas") != std::string::npos) continue;
    std::error_code ec;
    std::string real = fs::weakly_canonical(file, ec).string();
    if (ec) real = file;
    info.library = real;
    if (real.find("openblas") != std::string::npos) info.kind = "openblas";
    else if (real.find("mkl") != std::string::npos) info.kind = "mkl";
    else if (real.find("/blas/") != std::string::npos || name.rfind("libblas", 0) == 0) info.kind = "reference";
    else info.kind = "unknown";
    if (info.kind == "openblas" || info.kind == "mkl") break;  // the fast one wins when several are mapped
  }
  if (info.library.empty()) {
    info.kind = "builtin";  // statically linked into LibTorch (e.g. PyTorch wheels with MKL)
  }
  info.slow = info.kind == "reference";
  return info;
}

std::string torch_version() {
#ifdef TORCH_VERSION
  return TORCH_VERSION;
#else
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
#endif
}

int cuda_device_count() { return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

std::string version_line() {
  return std::string("osteofm ") + OSTEOFM_VERSION + " (LibTorch " + torch_version() +
         (torch::cuda::is_available() ? ", CUDA" : ", CPU") + (image_io_available() ? ", image I/O" : ", no image I/O") + ")";
}

nlohmann::json doctor_report() {
  nlohmann::json j;
  j["osteofm"] = OSTEOFM_VERSION;
  j["libtorch"] = torch_version();
  j["threads"] = at::get_num_threads();
  j["hardware_threads"] = hardware_threads();
  const int ncuda = cuda_device_count();
  j["cuda_devices"] = ncuda;
  nlohmann::json devs = nlohmann::json::array();
  for (int i = 0; i < ncuda; ++i) devs.push_back("cuda:" + std::to_string(i));
  j["devices"] = devs;
  const BlasInfo blas = detect_blas();
  j["blas"] = {{"library", blas.library}, {"kind", blas.kind}, {"slow", blas.slow}};
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

std::string self_executable() {
  char self[4096] = {0};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw RuntimeFailure("cannot find the osteofm executable (/proc/self/exe)");
  return std::string(self, static_cast<size_t>(n));
}

}  // namespace osteofm
