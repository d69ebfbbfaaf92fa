// osteofm table: the study's table for a sweep folder, plus the macro-ROC overlay.
#include <filesystem>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "core/atomic_file.hpp"
#include "report/roc_report.hpp"
#include "report/table.hpp"

namespace osteofm::cli {
namespace fs = std::filesystem;

void add_table_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string sweep, format = "md";
  };
  auto o = std::make_shared<Options>();
  auto* t = root.add_subcommand("table", "One row per variant: AUCs with CIs, P(best) and the variants not significantly below the best, "
                                         "validation-chosen sensitivity/specificity, calibration slope, Δbone, IoU_bone; writes SWEEP/table.<format> and SWEEP/roc_macro.svg/.png");
  t->add_option("SWEEP_DIR", o->sweep, "Sweep folder")->required();
  t->add_option("--format", o->format, "md, csv or latex")->capture_default_str()->check(CLI::IsMember({"md", "csv", "latex"}));
  commands.push_back({t, [o] {
    const SweepTable table = collect_sweep(o->sweep);
    const std::string text = format_table(table, o->format);
    std::cout << text;
    const std::string ext = o->format == "latex" ? "tex" : o->format;
    write_file_atomic((fs::path(o->sweep) / ("table." + ext)).string(), text);
    for (const auto& f : write_sweep_roc(o->sweep, table.rows, (fs::path(o->sweep) / "roc_macro").string()))
      std::cerr << "wrote " << f << "\n";
    return 0;
  }});
}

}  // namespace osteofm::cli
