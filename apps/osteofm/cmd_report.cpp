// osteofm report: the study folder as one self-contained HTML file (report/study_report.hpp).
#include <iostream>
#include <memory>

#include "command.hpp"
#include "report/study_report.hpp"

namespace osteofm::cli {

void add_report_command(CLI::App& root, Commands& commands) {
  struct ReportCmd {
    std::string study, out;
  };
  auto o = std::make_shared<ReportCmd>();
  auto* r = root.add_subcommand("report", "One self-contained HTML report of a study folder (reproduce, demo) that a "
                                          "clinician opens by double-click");
  r->add_option("STUDY", o->study, "Study folder (holds reproduce.json)")->required();
  r->add_option("--out", o->out, "HTML file (default: STUDY/report.html)");
  commands.push_back({r, [o] {
    const std::string out = o->out.empty() ? o->study + "/report.html" : o->out;
    const StudyReportSummary s = write_study_report(o->study, out);
    std::cout << out << ": " << s.figures << " figures inline, " << s.bytes / 1024 << " KiB\n";
    for (const auto& n : s.not_run) std::cout << "  not run: " << n << "\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar report_registrar(95, add_report_command);
}  // namespace

}  // namespace osteofm::cli
