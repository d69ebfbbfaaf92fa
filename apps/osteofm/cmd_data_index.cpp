// osteofm data index: the image index of a DICOM folder tree (data/image_index.hpp).
#include <iostream>
#include <memory>

#include "command.hpp"
#include "data/image_index.hpp"

namespace osteofm::cli {

void add_data_index_command(CLI::App& root, Commands& commands) {
  CLI::App* data = root.get_subcommand("data");
  auto o = std::make_shared<ImageIndexOptions>();
  auto* x = data->add_subcommand("index", "One row per file of a DICOM folder tree from its header: patient, date, "
                                          "modality, body part, view, sex, age, machine, geometry, status");
  x->add_option("DICOM_DIR", o->dicom_dir, "Folder of a PACS export (walked recursively)")->required();
  x->add_option("--out", o->out, "Image index CSV (an interrupted run continues from OUT.partial)")->required();
  x->add_option("--png-out", o->png_out,
                "Also write each readable image as the 16-bit PNG osteofm would read (modality LUT, VOI, MONOCHROME1 "
                "inverted) into this folder; `path` then names the PNG and `dicom_path` the source");
  commands.push_back({x, [o] {
    stop_safely_on_interrupt("data index stopped; the rows so far are in " + o->out +
                             ".partial: run the same command again to carry on");
    o->threads = 0;
    const ImageIndexSummary s = build_image_index(*o);
    std::cout << o->out << ": " << s.files << " files (";
    bool first = true;
    for (const auto& [status, n] : s.by_status) {
      std::cout << (first ? "" : ", ") << status << " " << n;
      first = false;
    }
    std::cout << ") in " << s.seconds << " s, " << (s.seconds > 0 ? static_cast<long>(s.files / s.seconds) : 0)
              << " files/s; " << s.reused << " kept from an interrupted run";
    if (!o->png_out.empty()) std::cout << "; " << s.pngs << " PNGs written to " << o->png_out;
    std::cout << "\n  next: osteofm data link --images " << o->out << " --dxa DXA.csv --window-days N --out COHORT.csv\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar data_index_registrar(34, add_data_index_command);
}  // namespace

}  // namespace osteofm::cli
