// Process-wide runtime settings and facts: threads, BLAS, LibTorch, devices.
#pragma once
#include <string>


namespace osteofm {

// LibTorch picks 1 intra-op thread on small VMs; osteofm sets it explicitly.
// threads <= 0 means all cores. (Image decoding has its own: io/image.hpp.)
void set_threads(int threads);
int hardware_threads();

struct BlasInfo {
  std::string library;  // resolved path of the BLAS shared object in this process
  std::string kind;     // "openblas", "mkl", "reference", "unknown"
  bool slow = false;    // the reference BLAS: ~40x slower matrix products
};
// Loads BLAS (a small matmul) and reads which shared object serves it (/proc/self/maps).
BlasInfo detect_blas();

std::string torch_version();
int cuda_device_count();

// Path of the running osteofm executable (sweeps start it once per variant).
std::string self_executable();

}  // namespace osteofm
