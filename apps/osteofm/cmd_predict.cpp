// osteofm predict: class probabilities of a run's model per image, to CSV or stdout.
#include <iostream>
#include <memory>

#include "command.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "train/predict.hpp"

namespace osteofm::cli {

void add_predict_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string run, out, data;
    std::vector<std::string> images;
    PredictOptions predict;
  };
  auto o = std::make_shared<Options>();
  auto* p = root.add_subcommand("predict", "Class probabilities of a finished run's model for images (DICOM, PNG, ...): one predictions-CSV row per input with status; exit 3 if some inputs could not be scored (the CSV is complete), 2 on bad usage");
  p->add_option("--run", o->run, "Finished run folder")->required();
  p->add_option("IMAGE", o->images, "Image files");
  p->add_option("--data", o->data, "Instead of files: a manifest or tensor cache (every row, or --split)");
  p->add_option("--split", o->predict.split, "With --data: only this split");
  p->add_option("--out", o->out, "CSV file (default: stdout)");
  p->add_option("--batch", o->predict.batch, "Images per batch")->capture_default_str();
  p->add_option("--device", o->predict.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  commands.push_back({p, [o] {
    stop_safely_on_interrupt("predict stopped; run the same command again");
    if (o->images.empty() == o->data.empty()) throw InputError("predict: give image files or --data, not both or neither");
    const PredictResult res = o->data.empty() ? predict_files(o->run, o->images, o->predict)
                                              : predict_manifest(o->run, o->data, o->predict);
    const std::string csv = predictions_csv(res);
    if (o->out.empty()) std::cout << csv;
    else write_file_atomic(o->out, csv);
    for (const auto& r : res.rows) {
      for (const auto& w : r.warnings) std::cerr << "osteofm: warning: " << r.path << ": " << w << "\n";
      if (!r.ok) std::cerr << "osteofm: skipped: " << r.error << "\n";
    }
    const size_t failed = res.failed();
    if (!o->out.empty()) std::cerr << o->out << ": " << res.rows.size() - failed << " of " << res.rows.size() << " images scored\n";
    if (failed > 0) {
      // Every input has its row; the exit code tells a script that some have no probabilities.
      std::cerr << "osteofm: error: " << failed << " of " << res.rows.size()
                << " inputs could not be scored (status=error in the CSV)\n";
      return 3;  // not 2: the command itself was right and its CSV is complete
    }
    return 0;
  }});
}

namespace {
const CommandRegistrar predict_registrar(130, add_predict_command);
}  // namespace

}  // namespace osteofm::cli
