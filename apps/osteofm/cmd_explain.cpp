// osteofm explain: Grad-CAM, IoU_bone and Δbone of a finished run on one split.
#include <iostream>
#include <memory>

#include "command.hpp"
#include "eval/bootstrap.hpp"
#include "core/parallel.hpp"
#include "core/runtime.hpp"
#include "eval/interval_text.hpp"
#include "explain/explain.hpp"

namespace osteofm::cli {

void add_explain_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string run, out;
    ExplainOptions explain;
    bool no_cluster = false;
  };
  auto o = std::make_shared<Options>();
  auto* e = root.add_subcommand("explain", "Grad-CAM, IoU_bone and Δbone of a run (explain.json, per_image.csv, overlays)");
  e->add_option("--run", o->run, "Finished run folder")->required();
  e->add_option("--out", o->out, "Output folder (use RUN/explain for 'osteofm table' to pick it up)")->required();
  e->add_option("--split", o->explain.split, "train, val or test")->capture_default_str();
  e->add_option("--data", o->explain.data, "Manifest or tensor cache (default: the run's data.manifest)");
  e->add_option("--target", o->explain.target, "Class whose CAM is computed: predicted, label, or a class name")
      ->capture_default_str();
  e->add_option("--cam", o->explain.cam, "gradcam (design.md), gradxact (per-token gradient x activation), occlusion (drop of the class probability when each patch-grid cell is filled with the split mean) or rollout (attention rollout, class-agnostic)")
      ->capture_default_str();
  e->add_option("--fills", o->explain.fills, "Occlusion fills, the first one reported as delta_bone.all")
      ->delimiter(',')
      ->capture_default_str();
  e->add_option("--occlusion-floor", o->explain.occlusion_floor,
                "--cam occlusion: probability drops below this count as no effect")
      ->capture_default_str();
  e->add_option("--threshold", o->explain.fixed_threshold, "Fixed CAM threshold of iou_bone_fixed")->capture_default_str();
  e->add_option("--overlays", o->explain.overlays_per_class, "Overlay PNGs per true class")->capture_default_str();
  e->add_option("--chance-draws", o->explain.chance_draws,
                "Random token-grid maps per image for the chance level of each score (0: no chance/ceiling/normalised)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  e->add_option("--deletion-steps", o->explain.deletion_steps,
                "Deletion curves: the map's top cells removed in this many steps, against a random order (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  e->add_option("--area-draws", o->explain.area_draws,
                "Draws of the area-matched non-bone occlusion, the control of Δbone (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  e->add_option("--bootstrap", o->explain.bootstrap.replicates, "Bootstrap replicates")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxBootstrapReplicates));
  e->add_option("--seed", o->explain.bootstrap.seed, "Bootstrap and noise-fill seed")->capture_default_str();
  auto* cl = e->add_flag("--cluster", "Resample patients with all their images (the default)");
  e->add_flag("--no-cluster", o->no_cluster, "Resample images, ignoring that a patient may have several")->excludes(cl);
  e->add_option("--mask-sensitivity", o->explain.mask_sensitivity,
                 "Also score IoU_bone and Δbone with every mask eroded and dilated by PX pixels of the model's input "
                 "(mask_range beside each estimate); default 1% of the input side, 0 off");
  e->add_option("--batch", o->explain.batch, "Images per batch")->capture_default_str();
  e->add_option("--device", o->explain.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  commands.push_back({e, [o] {
    stop_safely_on_interrupt("explain stopped before writing " + o->out + "/explain.json (nothing half-written is "
                             "kept); run the same command again");
    o->explain.bootstrap.threads = resolve_threads(0);
    o->explain.cluster = !o->no_cluster;
    const ExplainSummary s = explain_run(o->run, o->out, o->explain);
    const auto& r = s.report;
    auto show = [](const nlohmann::json& v) { return interval_text(v); };
    std::cout << o->out << ": " << s.images << " images (" << r.at("split").get<std::string>() << "), IoU_bone(all) "
              << show(r.at("iou_bone").at("all"))
              << (r.at("iou_bone").contains("reference") && !r.at("iou_bone").at("reference").at("all").is_null()
                      ? " (normalised " + show(r.at("iou_bone").at("reference").at("all").at("normalised")) + ")"
                      : std::string())
              << ", Δbone(all, " << r.at("delta_bone").at("fill").get<std::string>()
              << " fill) " << show(r.at("delta_bone").at("all")) << ", " << s.overlays << " overlays\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar explain_registrar(120, add_explain_command);
}  // namespace

}  // namespace osteofm::cli
