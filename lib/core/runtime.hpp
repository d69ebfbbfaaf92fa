// Process-wide runtime settings and facts: threads, BLAS, LibTorch, devices.
#pragma once
#include <string>


namespace osteofm {

// Sets osteofm's own pools to `threads` (<= 0: all cores) and LibTorch's and OpenBLAS's
// from it, as bench/bench_threads.cpp measured fastest: with OpenBLAS loaded, OpenBLAS gets
// the threads and LibTorch's intra-op pool 1; with any other BLAS, LibTorch gets them.
// (Image decoding has its own: io/image.hpp.)
void set_threads(int threads);
int hardware_threads();

struct BlasInfo {
  std::string library;  // resolved path of the BLAS shared object in this process
  std::string kind;     // "openblas", "mkl", "reference", "unknown"
  bool slow = false;    // the reference BLAS: ~40x slower matrix products
  std::string threading;  // OpenBLAS: "pthreads", "openmp" or "sequential"; "" otherwise
  int threads = -1;       // OpenBLAS's own thread count; -1 when not OpenBLAS
};

// OpenBLAS keeps its own thread pool beside LibTorch's intra-op threads; with the pthreads
// build both pools run at once and oversubscribe the cores. These find OpenBLAS's controls
// at run time (dlsym), so any BLAS links; false / -1 when the loaded BLAS is not OpenBLAS.
bool set_blas_threads(int threads);
int blas_threads();
// Loads BLAS (a small matmul) and reads which shared object serves it (/proc/self/maps).
BlasInfo detect_blas();

std::string torch_version();
int cuda_device_count();


}  // namespace osteofm
