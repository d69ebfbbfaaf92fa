// osteofm synth: the built-in phantom cohort (radiographs, bone masks, manifest).
#include <cstdio>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "core/error.hpp"
#include "data/phantom.hpp"
#include "data/split.hpp"

namespace osteofm::cli {

void add_synth_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string out, images = "1-2", mix = "0.35,0.45,0.20";
    PhantomOptions phantom;
  };
  auto o = std::make_shared<Options>();
  auto* s = root.add_subcommand("synth", "Synthetic chest-radiograph cohort with exact bone masks and T-scores");
  s->add_option("--out", o->out, "Output folder")->required();
  s->add_option("--patients", o->phantom.patients, "Patients")->capture_default_str();
  s->add_option("--images-per-patient", o->images, "Exams per patient, A-B")->capture_default_str();
  s->add_option("--size", o->phantom.size, "Image size in pixels")->capture_default_str();
  s->add_option("--seed", o->phantom.seed, "Seed")->capture_default_str();
  s->add_option("--shortcut", o->phantom.shortcut, "none; marker: a label-correlated cue outside all bones; in-bone: a label-correlated cue inside the ribs, without density")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "marker", "in-bone"}));
  s->add_option("--effect", o->phantom.effect, "Bone-density effect size (0 = no signal)")->capture_default_str();
  s->add_option("--signal-region", o->phantom.signal_region,
                "The density effect in one bone only: spine, ribs, clavicles, scapulae or humeri (default: all bones)");
  s->add_option("--shortcut-strength", o->phantom.shortcut_strength,
                "--shortcut marker or in-bone: share of exams whose cue encodes the true class (others: a random class)")
      ->capture_default_str();
  s->add_option("--previews", o->phantom.previews, "Also write N previews/*.png with region outlines")->capture_default_str();
  s->add_option("--class-mix", o->mix, "normal,osteopenia,osteoporosis shares")->capture_default_str();
  commands.push_back({s, [o] {
    int a = 0, b = 0;
    if (std::sscanf(o->images.c_str(), "%d-%d", &a, &b) == 2) {
      o->phantom.images_min = a;
      o->phantom.images_max = b;
    } else if (std::sscanf(o->images.c_str(), "%d", &a) == 1) {
      o->phantom.images_min = o->phantom.images_max = a;
    } else {
      throw InputError("--images-per-patient '" + o->images + "': expected A-B, e.g. 1-2");
    }
    const SplitRatios mix = parse_split_ratios(o->mix, "--class-mix", "normal,osteopenia,osteoporosis");  // three shares summing to 1
    o->phantom.class_mix = {mix.train, mix.val, mix.test};
    const PhantomSummary sum = write_phantom_cohort(o->out, o->phantom);
    std::printf("%s: %zu images of %zu patients (normal %zu, osteopenia %zu, osteoporosis %zu) in %.1f s (%.0f images/s)\n"
                "baseline: osteoporosis-vs-rest AUC of the mean bone intensity = %.3f\n",
                o->out.c_str(), sum.images, sum.patients, sum.class_counts[0], sum.class_counts[1], sum.class_counts[2],
                sum.seconds, sum.images / sum.seconds, sum.baseline_auc);
    return 0;
  }});
}

namespace {
const CommandRegistrar synth_registrar(20, add_synth_command);
}  // namespace

}  // namespace osteofm::cli
