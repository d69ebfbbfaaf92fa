// osteofm-torch: every verb, with LibTorch, OpenCV and DCMTK loaded. Users start it through
// `osteofm` (launcher_main.cpp), which runs the verbs that need none of them itself.
#include "about.hpp"
#include "cli_main.hpp"

int main(int argc, char** argv) {
  using namespace osteofm::cli;
  return run_command_line(argc, argv, ProcessSetup{configure_threads, record_process, version_line});
}
