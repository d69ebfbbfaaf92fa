// osteofm data link: the cohort from an image index and a DXA export (rules and their order:
// data/cohort_link.hpp), with the excluded list and the STARD flow diagram.
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "data/cohort_link.hpp"
#include "io/image.hpp"
#include "report/flow_diagram.hpp"

namespace osteofm::cli {

namespace {
struct LinkCmd {
  std::string images, dxa, out, direction = "any", views = "PA,AP", per_patient = "all", sex;
  CohortLinkOptions options;
};
}  // namespace

void add_data_link_command(CLI::App& root, Commands& commands) {
  CLI::App* data = root.get_subcommand("data");
  auto o = std::make_shared<LinkCmd>();
  auto* l = data->add_subcommand("link", "Pair each radiograph with the patient's DXA exam: the cohort manifest, its "
                                         "exclusions and the STARD flow diagram");
  l->add_option("--images", o->images, "Image index (data index's images.csv, or any CSV with image_id, patient_id, "
                                       "path, study_date)")
      ->required();
  l->add_option("--dxa", o->dxa, "DXA export: patient_id, dxa_date (YYYY-MM-DD), t_lumbar_spine, t_femoral_neck, "
                                 "t_total_hip (any may be empty)")
      ->required();
  l->add_option("--window-days", o->options.window_days, "Largest |DXA date - image date| accepted, days")->required();
  l->add_option("--direction", o->direction, "any, before (DXA on or before the image) or after")->capture_default_str();
  l->add_option("--reference", o->options.reference,
                "Reference T-score: lowest (of the sites present; WHO), lumbar_spine, femoral_neck or total_hip")
      ->capture_default_str();
  l->add_option("--views", o->views, "View positions kept, comma-separated (an empty view is kept)")->capture_default_str();
  l->add_option("--sex", o->sex, "Keep this sex only (e.g. F); an empty sex differs");
  l->add_option("--per-patient", o->per_patient, "all, first (earliest image) or closest (to its DXA)")
      ->capture_default_str();
  l->add_option("--out", o->out, "Cohort manifest COHORT.csv; beside it COHORT.excluded.csv, COHORT.flow.json, "
                                 "COHORT.flow.svg and .png")
      ->required();
  commands.push_back({l, [o] {
    o->options.direction = parse_dxa_direction(o->direction);
    o->options.per_patient = parse_per_patient(o->per_patient);
    o->options.views = split_commas(o->views);
    if (!o->sex.empty()) o->options.sex = o->sex;
    const CohortLink link = link_cohort(o->images, o->dxa, o->options);
    const std::string images_dir = std::filesystem::path(o->images).parent_path().string();
    const std::string flow_path = write_cohort(link, images_dir, o->out);
    const std::string prefix = cohort_prefix(o->out);
    const FlowDiagram diagram = cohort_flow_diagram(cohort_flow_json(link));
    write_flow_svg(prefix + ".flow.svg", diagram);
    if (image_io_available()) write_flow_png(prefix + ".flow.png", diagram);
    const CohortFlow& f = link.flow;
    std::cout << o->out << ": " << f.n_out << " of " << f.n_in << " images (" << f.n_patients_out
              << " patients): normal " << f.classes_out[0] << ", osteopenia " << f.classes_out[1] << ", osteoporosis "
              << f.classes_out[2] << "\n  excluded:";
    for (size_t k = 0; k < kExclusionReasons.size(); ++k)
      if (f.excluded[k] > 0) std::cout << " " << kExclusionReasons[k] << " " << f.excluded[k] << ";";
    std::cout << "\n  files: " << prefix << ".excluded.csv, " << flow_path << ", " << prefix << ".flow.svg"
              << (image_io_available() ? ", " + prefix + ".flow.png" : std::string()) << "\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar data_link_registrar(32, add_data_link_command);
}  // namespace

}  // namespace osteofm::cli
