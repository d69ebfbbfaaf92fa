// `osteofm demo`: osteofm reproduce on the built-in phantom cohort, end to end and
// resumable: synthesise, train the twelve tiny variants, evaluate with bootstrap CIs,
// explain, write the table and ROC overlay, and say where everything is.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace osteofm {

struct DemoOptions {
  std::string out = "demo";
  int patients = 300;
  int size = 128;          // phantom side; each family resizes to its tiny preset's input
  uint64_t seed = 1;
  int epochs = 10;
  int bootstrap = 1000;    // explain's replicates (metrics_test.json uses eval's 2000)
  std::string binary;      // the osteofm executable (the sweep runs one process per variant)
  int threads = 0;         // osteofm's global --threads (0: not given), passed to every child
};

// The demo's sweep config (twelve *-tiny variants, random weights): a real file in the
// output folder so that 'osteofm sweep' can rerun or extend it.
nlohmann::json demo_sweep_config(const std::string& manifest, int epochs = 10);

// Returns the number of variants that failed. Running it again resumes: a finished cohort,
// variant or explain is kept.
int run_demo(const DemoOptions& options);

}  // namespace osteofm
