// A STARD-style participant flow diagram (boxes with counts, exclusions beside the main
// line, the final counts by class below), as SVG and PNG from one layout.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace osteofm {

struct FlowBox {
  std::vector<std::string> lines;  // the first is drawn bold
};

struct FlowDiagram {
  std::string title;
  FlowBox source;                 // e.g. "Radiographs in the index", "n = 520"
  FlowBox excluded;               // beside the main line: "Excluded (n = 351)", one line per reason
  FlowBox included;               // e.g. "Linked to a DXA exam", "n = 169 images, 117 patients"
  std::vector<FlowBox> outcomes;  // the bottom row: one box per class (with splits, when known)
};

// The cohort linkage's diagram from its flow.json ({"flow": {...}, "rules": {...}}, as
// data link writes it; with "classes_out_by_split" once data split has run).
FlowDiagram cohort_flow_diagram(const nlohmann::json& flow_file);

struct Manifest;
// The flow file of a cohort with the kept images counted by split and class
// (flow.classes_out_by_split), once data split has assigned them: from the split manifest.
nlohmann::json cohort_flow_with_splits(nlohmann::json flow_file, const Manifest& split_manifest);

std::string render_flow_svg(const FlowDiagram& diagram);
void write_flow_svg(const std::string& path, const FlowDiagram& diagram);
// Throws InputError naming the path in builds without image I/O.
void write_flow_png(const std::string& path, const FlowDiagram& diagram);

}  // namespace osteofm
