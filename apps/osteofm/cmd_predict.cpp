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
  auto* p = root.add_subcommand("predict", "Class probabilities of a finished run's model for images (DICOM, PNG, ...)");
  p->add_option("--run", o->run, "Finished run folder")->required();
  p->add_option("IMAGE", o->images, "Image files");
  p->add_option("--data", o->data, "Instead of files: a manifest or tensor cache (every row, or --split)");
  p->add_option("--split", o->predict.split, "With --data: only this split");
  p->add_option("--out", o->out, "CSV file (default: stdout)");
  p->add_option("--batch", o->predict.batch, "Images per batch")->capture_default_str();
  p->add_option("--device", o->predict.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  commands.push_back({p, [o] {
    if (o->images.empty() == o->data.empty()) throw InputError("predict: give image files or --data, not both or neither");
    const bool manifest = !o->data.empty();
    const auto rows = manifest ? predict_manifest(o->run, o->data, o->predict) : predict_files(o->run, o->images, o->predict);
    const std::string csv = predictions_csv(rows, manifest);
    if (o->out.empty()) std::cout << csv;
    else {
      write_file_atomic(o->out, csv);
      std::cerr << o->out << ": " << rows.size() << " images\n";
    }
    return 0;
  }});
}

}  // namespace osteofm::cli
