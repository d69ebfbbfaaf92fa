// osteofm report: one self-contained HTML file for a study folder (what reproduce or demo
// wrote) that a clinician opens by double-click — cohort (flow diagram, Table 1), methods
// filled from the files, results (table, curves, comparisons, subgroups), explainability,
// the segmenter's QC, a TRIPOD+AI checklist and the provenance of every input. Figures
// are inline (data: URIs), CSS inline, nothing from the network; A4 print layout. A part
// the study did not run is a section that says "not run", never a missing one.
#pragma once
#include <string>
#include <vector>

namespace osteofm {

struct StudyReportSummary {
  std::string path;
  size_t figures = 0;
  std::vector<std::string> not_run;  // the sections with nothing to show, and why
  size_t bytes = 0;
};

// Throws InputError when `study_dir` is no study folder (no reproduce.json).
StudyReportSummary write_study_report(const std::string& study_dir, const std::string& out_html);

}  // namespace osteofm
