// What this osteofm is and runs on (`--version`, `osteofm doctor`), and the process-wide
// thread setting: facts gathered from every part, so they live with the app.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace osteofm::cli {

// LibTorch's and osteofm's pools (core/runtime.hpp) and the image decoders' (io/image.hpp).
void configure_threads(int threads);
// The command line and the facts of this process, for every provenance.json it writes.
void record_process(int argc, char** argv);
std::string version_line();
// Everything `osteofm doctor` reports, as JSON; gemm_gflops from a 512^3 product.
nlohmann::json doctor_report();

}  // namespace osteofm::cli
