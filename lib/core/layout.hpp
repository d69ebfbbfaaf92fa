// The folders osteofm writes, named once: a run (osteofm train --out RUN), its explain
// folder, a sweep (osteofm sweep --out SWEEP) and a study (osteofm reproduce or demo --out
// STUDY). Train writes these files, Sweep, Eval, Report and Explain read them: every one
// of them spells a name through here, so a rename is one line.
//
//   RUN/config.json status.json log.jsonl provenance.json
//   RUN/checkpoints/{last,best}.safetensors
//   RUN/predictions_<split>.csv metrics_<split>.json metrics_test_figures.json
//   RUN/explain/explain.json per_image.csv replicates.csv
//   SWEEP/sweep.json table.{md,csv,tex} compare.json seeds/<variant>/seed-<n>/
//   STUDY/study.json reproduce.json provenance.json report.html sweep/
#pragma once
#include <string>

namespace osteofm::layout {

// A run.
inline constexpr const char* kRunConfig = "config.json";
inline constexpr const char* kRunStatus = "status.json";
inline constexpr const char* kRunLog = "log.jsonl";
inline constexpr const char* kProvenance = "provenance.json";
inline constexpr const char* kCheckpoints = "checkpoints";
inline constexpr const char* kLastCheckpoint = "last.safetensors";
inline constexpr const char* kBestCheckpoint = "best.safetensors";
inline std::string predictions_file(const std::string& split) { return "predictions_" + split + ".csv"; }
inline std::string metrics_file(const std::string& split) { return "metrics_" + split + ".json"; }
inline const std::string kPredictionsTest = predictions_file("test");
inline const std::string kPredictionsVal = predictions_file("val");
inline const std::string kMetricsTest = metrics_file("test");
// Written after the last figure of metrics_test.json: its presence means all are drawn.
inline constexpr const char* kMetricsTestFigures = "metrics_test_figures.json";

// RUN/explain.
inline constexpr const char* kExplainDir = "explain";
inline constexpr const char* kExplainRecord = "explain.json";
inline constexpr const char* kPerImage = "per_image.csv";
inline constexpr const char* kReplicates = "replicates.csv";

// A sweep.
inline constexpr const char* kSweepRecord = "sweep.json";
inline constexpr const char* kCompare = "compare.json";
inline constexpr const char* kTableMarkdown = "table.md";
inline constexpr const char* kTableCsv = "table.csv";
inline constexpr const char* kTableLatex = "table.tex";
inline constexpr const char* kSeedsDir = "seeds";

// A study.
inline constexpr const char* kStudyRecord = "study.json";
inline constexpr const char* kReproduceRecord = "reproduce.json";
inline constexpr const char* kStudyReport = "report.html";
inline constexpr const char* kStudySweepDir = "sweep";

}  // namespace osteofm::layout
