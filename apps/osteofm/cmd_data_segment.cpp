// osteofm data segment: bone and control masks for real radiographs from a TorchScript
// segmenter (design.md "Segmenters"), with QC tables and pictures.
#include <iostream>
#include <memory>

#include "command.hpp"
#include "core/error.hpp"
#include "models/segment_manifest.hpp"

namespace osteofm::cli {

void add_data_segment_command(CLI::App& root, Commands& commands) {
  CLI::App* data = root.get_subcommand("data");  // `data` itself is cmd_data.cpp's (an earlier rank)
  auto o = std::make_shared<SegmentOptions>();
  auto* s = data->add_subcommand("segment", "Region masks (spine, ribs, clavicles, lungs, ...) from a TorchScript segmenter, "
                                            "with QC (qc.csv, contact_sheet.png)");
  s->add_option("MANIFEST", o->manifest, "Manifest CSV of the radiographs")->required();
  s->add_option("--model", o->model, "TorchScript segmenter (torch.jit.trace/script, then .save); run only files you trust")
      ->required();
  s->add_option("--spec", o->spec, "Its spec, format osteofm-segmenter/1 (default: the model's path with .json)");
  s->add_option("--out", o->out, "Output folder: masks/, regions.json, manifest.csv, qc.csv, qc.json, contact sheet "
                                  "(an interrupted run in it continues)")
      ->required();
  s->add_option("--batch", o->batch, "Images per forward pass (default: 1 on the CPU, 8 on CUDA, as measured)");
  s->add_option("--device", o->device, "auto, cpu or cuda[:N]")->capture_default_str();
  s->add_flag("--save-logits", o->save_logits, "Also write logits/<image>.safetensors (input and logits, to debug a spec)");
  s->add_flag("!--no-pictures", o->pictures, "Skip the contact sheet and the flagged overlays");
  commands.push_back({s, [o] {
    stop_safely_on_interrupt("data segment stopped; the masks written so far are kept: run the same command again to "
                             "carry on");
    const SegmentSummary r = segment_manifest(*o);
    for (const auto& f : r.failures) std::cerr << "  failed: " << f << "\n";  // the one error line follows
    std::cout << r.out << ": " << (r.images - r.failed) << " of " << r.images << " images masked (" << r.segmented
              << " now, " << r.kept << " kept from before, " << r.failed << " failed), " << r.flagged
              << " flagged for a look (qc.csv" << (r.pictures.empty() ? "" : ", " + r.pictures.front()) << ")\n";
    std::cout << "  manifest with masks: " << r.manifest_out << "\n";
    std::cout << "  time " << r.seconds << " s: decode+resize " << r.decode_seconds << " s, model " << r.model_seconds
              << " s, masks " << r.post_seconds << " s, QC " << r.qc_seconds << " s\n";
    if (r.failed > 0) {
      std::cerr << "osteofm: error: " << r.out << ": " << r.failed << " of " << r.images
                << " images could not be segmented (listed above and in qc.csv); fix them and run again\n";
      return 2;
    }
    return 0;
  }});
}

namespace {
const CommandRegistrar data_segment_registrar(31, add_data_segment_command);
}  // namespace

}  // namespace osteofm::cli
