#include "core/runtime.hpp"

#include "core/parallel.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.hpp"

namespace osteofm {
namespace fs = std::filesystem;

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

namespace {
template <class F>
F openblas_symbol(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}
}  // namespace

bool set_blas_threads(int threads) {
  const auto set = openblas_symbol<void (*)(int)>("openblas_set_num_threads");
  if (!set) return false;
  set(std::max(1, threads));
  return true;
}

int blas_threads() {
  const auto get = openblas_symbol<int (*)()>("openblas_get_num_threads");
  return get ? get() : -1;
}

void set_threads(int threads) {
  set_default_threads(threads);  // osteofm's own pools (bootstrap, phantom, loaders, data check)
  const int n = resolve_threads(0);
  // With OpenBLAS, its pool takes the threads and LibTorch's intra-op pool one. Measured by
  // bench/bench_threads.cpp on a 2-core VM (dinov2-vitb14, 224 px): intra-op 1 x OpenBLAS 2
  // embeds at 3.21 images/s and trains at 2.46, against 2.05 and 2.05 for 2 x 2 (1.57x,
  // 1.20x); OpenBLAS's OpenMP build gives the same order (3.32 / 2.26 vs 2.99 / 2.14). A ViT
  // on CPU is GEMM time, and two pools on the same cores fight. Any other BLAS (MKL inside
  // a PyTorch wheel) threads through LibTorch's pool, which then takes all n.
  const bool openblas = set_blas_threads(n);
  at::set_num_threads(openblas ? 1 : n);
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
  if (const auto parallel = openblas_symbol<int (*)()>("openblas_get_parallel")) {
    const int p = parallel();
    info.threading = p == 0 ? "sequential" : p == 1 ? "pthreads" : p == 2 ? "openmp" : "unknown";
    info.threads = blas_threads();
  }
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

}  // namespace osteofm
