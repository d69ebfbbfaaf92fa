// osteofm doctor: what this installation runs on, and what would make it slow.
#include <iostream>
#include <nlohmann/json.hpp>

#include "about.hpp"
#include "command.hpp"

namespace osteofm::cli {

void add_doctor_command(CLI::App& root, Commands& commands) {
  auto* sub = root.add_subcommand("doctor", "Report LibTorch, devices, BLAS, threads and codec libraries");
  static bool as_json = false;
  sub->add_flag("--json", as_json, "Print JSON instead of text");
  commands.push_back({sub, [] {
    const nlohmann::json r = doctor_report();
    if (as_json) {
      std::cout << r.dump(2) << "\n";
    } else {
      std::cout << version_line() << "\n"
                << "  LibTorch      " << r["libtorch"].get<std::string>() << "\n"
                << "  CUDA devices  " << r["cuda_devices"].get<int>() << "\n"
                << "  threads       LibTorch intra-op " << r["threads"].get<int>() << ", "
                << r["hardware_threads"].get<int>() << " cores\n"
                << "  BLAS          " << r["blas"]["kind"].get<std::string>() << " ("
                << r["blas"]["library"].get<std::string>() << ")\n"
                << "  BLAS threads  "
                << (r["blas"]["threads"].get<int>() < 0
                        ? std::string("not OpenBLAS: its own setting")
                        : std::to_string(r["blas"]["threads"].get<int>()) + " (" +
                              r["blas"]["threading"].get<std::string>() + " build; set with --threads)")
                << "\n"
                << "  GEMM 512^3    " << static_cast<int>(r["gemm_gflops"].get<double>()) << " GFLOP/s\n"
                << "  OpenCV        " << (r["opencv"].get<std::string>().empty() ? "not built in" : r["opencv"].get<std::string>()) << "\n"
                << "  DCMTK         " << (r["dcmtk"].get<std::string>().empty() ? "not built in" : r["dcmtk"].get<std::string>()) << "\n"
                << "  GDCM          " << (r["gdcm"].get<std::string>().empty() ? "not built in" : r["gdcm"].get<std::string>()) << "\n";
    }
    if (r["blas"]["slow"].get<bool>()) {
      std::cerr << "WARNING: LibTorch is using the slow reference BLAS (" << r["blas"]["library"].get<std::string>()
                << "): matrix products are ~40x slower. Install libopenblas0-pthread "
                   "(apt-get install libopenblas0-pthread) or run scripts/setup.sh.\n";
    }
    return 0;
  }});
}

namespace {
const CommandRegistrar doctor_registrar(10, add_doctor_command);
}  // namespace

}  // namespace osteofm::cli
