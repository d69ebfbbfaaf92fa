// osteofm table: the study's table for a sweep folder, plus the macro-ROC overlay.
#include <filesystem>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "report/roc_report.hpp"
#include "report/table.hpp"

namespace osteofm::cli {
namespace fs = std::filesystem;

void add_table_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string sweep, format = "md";
    bool regions = false;
  };
  auto o = std::make_shared<Options>();
  auto* t = root.add_subcommand("table", "One row per variant: AUCs with CIs, P(best) and the variants not significantly below the best, "
                                         "validation-chosen sensitivity/specificity, calibration slope, Δbone, IoU_bone; writes SWEEP/table.<format> and SWEEP/roc_macro.svg/.png");
  t->add_option("SWEEP_DIR", o->sweep, "Sweep folder")->required();
  t->add_option("--format", o->format, "md, csv or latex")->capture_default_str()->check(CLI::IsMember({"md", "csv", "latex"}));
  t->add_flag("--regions", o->regions,
              "Also write SWEEP/table_regions.<format>: the per-region add-back Δbone of every variant, with CIs");
  commands.push_back({t, [o] {
    const SweepTable table = collect_sweep(o->sweep);
    const std::string text = format_table(table, o->format);
    std::cout << text;
    const std::string ext = o->format == "latex" ? "tex" : o->format;
    write_file_atomic((fs::path(o->sweep) / ("table." + ext)).string(), text);
    if (o->regions) {
      const std::string regions = format_region_table(table, o->format);
      if (regions.empty())
        throw InputError(o->sweep + ": no run has per-region Δbone (run osteofm explain on a split with bone masks first)");
      const fs::path file = fs::path(o->sweep) / ("table_regions." + ext);
      write_file_atomic(file.string(), regions);
      std::cerr << "wrote " << file.string() << "\n";
    }
    for (const auto& f : write_sweep_roc(o->sweep, table.rows, (fs::path(o->sweep) / "roc_macro").string()))
      std::cerr << "wrote " << f << "\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar table_registrar(70, add_table_command);
}  // namespace

}  // namespace osteofm::cli
