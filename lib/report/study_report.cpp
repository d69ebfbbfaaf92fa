#include "report/study_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/layout.hpp"
#include "core/provenance.hpp"
#include "core/sha256.hpp"
#include "io/manifest.hpp"
#include "report/flow_diagram.hpp"
#include "report/html.hpp"
#include "report/table_one.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace osteofm {

namespace {

json read_json_or_null(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return json();
  const json j = parse_json_file(p.string());
  return j.is_discarded() ? json() : j;
}

std::string fixed(double v, int decimals = 3) { return std::isfinite(v) ? format_fixed(v, decimals) : "–"; }

std::string not_run_box(const std::string& why) { return "<p class=\"not-run\">Not run: " + html_escape(why) + "</p>\n"; }

// What the report reads, found once.
struct Study {
  fs::path dir, sweep;
  json record, study, provenance, compare;
  std::string manifest, cohort;  // the researcher's manifest; the one the study trained on (split)
  std::vector<fs::path> runs;    // sweep/<variant>/ with metrics_test.json, sorted
  StudyReportSummary* summary = nullptr;
  std::string figure(const fs::path& p, const std::string& caption, const std::string& css = "") const {
    std::string f = html_figure(p.string(), caption, css);
    if (!f.empty()) summary->figures++;
    return f;
  }
  // A section with nothing to show: recorded in the summary (osteofm report lists them, the
  // checklist reads them) and drawn as a "Not run" box.
  std::string not_run(const std::string& section, const std::string& why) const {
    summary->not_run.push_back(section + ": " + why);
    return not_run_box(why);
  }
  bool ran(const std::string& section) const {
    return std::none_of(summary->not_run.begin(), summary->not_run.end(),
                        [&](const std::string& n) { return n.rfind(section + ":", 0) == 0; });
  }
};

Study open_study_folder(const std::string& dir, StudyReportSummary* summary) {
  Study s;
  s.summary = summary;
  s.dir = fs::absolute(dir).lexically_normal();
  s.record = read_json_or_null(s.dir / layout::kReproduceRecord);
  if (!s.record.is_object())
    throw InputError(dir + ": not a study folder of osteofm reproduce or demo (no readable reproduce.json)");
  s.sweep = s.dir / layout::kStudySweepDir;
  s.study = read_json_or_null(s.dir / layout::kStudyRecord);
  s.provenance = read_json_or_null(s.dir / layout::kProvenance);
  s.compare = read_json_or_null(s.sweep / layout::kCompare);
  s.manifest = s.record.value("manifest", "");
  s.cohort = fs::exists(s.dir / "data" / "cohort.csv") ? (s.dir / "data" / "cohort.csv").string() : s.manifest;
  std::error_code ec;
  if (fs::is_directory(s.sweep, ec))
    for (const auto& e : fs::directory_iterator(s.sweep, ec))
      if (fs::exists(e.path() / layout::kMetricsTest)) s.runs.push_back(e.path());
  std::sort(s.runs.begin(), s.runs.end());
  return s;
}

// ---- cohort -------------------------------------------------------------------------

std::string check_counts(const Study& s) {
  const json check = read_json_or_null(s.dir / "data" / "check.json");
  if (!check.is_object()) return not_run_box("no data check (data/check.json)");
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : check.items())
    if (v.is_string()) rows.push_back({k, v.get<std::string>()});
    else if (v.is_number() || v.is_boolean()) rows.push_back({k, v.dump()});
    else if (v.is_object() && k != "problems")
      for (const auto& [k2, v2] : v.items())
        if (v2.is_number() || v2.is_string()) rows.push_back({k + "." + k2, v2.is_string() ? v2.get<std::string>() : v2.dump()});
  return "<h3>Data check</h3>\n" + html_table({"item", "value"}, rows);
}

std::string flow_section(const Study& s) {
  fs::path prefix(s.manifest);
  if (prefix.extension() == ".csv") prefix.replace_extension();
  json flow = read_json_or_null(prefix.string() + ".flow.json");
  if (!flow.is_object() || !flow.contains("flow"))
    return "<h3>Participant flow</h3>\n" +
           s.not_run("flow diagram", "the manifest was not made by 'osteofm data link' (no " +
                                         prefix.filename().string() + ".flow.json beside it); the data check's counts follow") +
           check_counts(s);
  if (!flow["flow"].contains("classes_out_by_split") && fs::exists(s.cohort)) {
    const Manifest m = read_manifest(s.cohort);
    if (m.has_split) flow = cohort_flow_with_splits(flow, m);
  }
  const std::string svg = render_flow_svg(cohort_flow_diagram(flow));
  s.summary->figures++;
  return "<h3>Participant flow</h3>\n<figure><img src=\"data:image/svg+xml;base64," + base64_encode(svg) +
         "\" alt=\"STARD flow diagram\"><figcaption>Figure 1. Participant flow (STARD): radiographs of the image "
         "index, exclusions by rule, the linked cohort by WHO class of the reference T-score" +
         (flow["flow"].contains("classes_out_by_split") ? std::string(" and by split") : std::string()) +
         ".</figcaption></figure>\n";
}

std::string table_one_section(const Study& s) {
  std::error_code ec;
  if (s.cohort.empty() || !fs::is_regular_file(s.cohort, ec) || fs::path(s.cohort).extension() != ".csv") {
    return "<h3>Table 1</h3>\n" + s.not_run("Table 1", "the study was given a tensor cache, which keeps no cohort columns");
  }
  const Manifest m = read_manifest(s.cohort);
  TableOneOptions o;
  o.by = m.has_split ? "split" : "label";
  const TableOne t = describe_table(read_file(s.cohort), fs::path(s.cohort).filename().string(), o);
  return "<h3>Table 1. Characteristics of the cohort by " + html_escape(o.by) + "</h3>\n" + table_one_html(t);
}


// ---- methods ------------------------------------------------------------------------

// How compare.json compared the variants: the paired test it used (DeLong, or
// Obuchowski's clustered variance when patients repeat) and whether variants are seed means.
std::string comparison_methods(const json& compare) {
  std::string method = "delong";
  if (compare.is_object() && compare.contains("comparisons"))
    for (const auto& [endpoint, rows] : compare["comparisons"].items())
      if (rows.is_array() && !rows.empty()) method = rows[0].value("method", method);
  std::string p = method == "obuchowski"
                      ? "Models are compared by paired AUC tests with Obuchowski's clustered variance (patients "
                        "contribute several radiographs) with Holm's adjustment"
                      : "Models are compared by paired DeLong tests with Holm's adjustment";
  p += " and by paired bootstrap differences (P(best): the share of replicates in which a model has the highest "
       "macro AUC). ";
  if (compare.is_object() && compare.contains("seed_averaging"))
    p += "A variant trained at several seeds is reported as the mean over its seeds, with the interval of that "
         "mean. ";
  return p;
}

// ", and on occlusion maps" for the run's further explain folders (RUN/explain-<map>).
std::string other_maps(const fs::path& run) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("explain-", 0) == 0 && fs::exists(e.path() / layout::kExplainRecord))
      names.push_back(name.substr(8));
  }
  std::sort(names.begin(), names.end());
  std::string maps;
  for (const auto& n : names) maps += (maps.empty() ? "" : ", ") + html_escape(n);
  return maps.empty() ? "" : " (and on " + maps + " maps)";
}

std::string methods_section(const Study& s) {
  std::string p = "<p>";
  const json& study = s.study.is_object() ? s.study : s.record.value("study", json::object());
  const json split = s.record.value("split", json::object());
  p += "Images were read by osteofm " + html_escape(OSTEOFM_VERSION) + " (commit " + html_escape(osteofm_commit()) +
       "); " + html_escape(dicom_windowing_policy()) + ". ";
  if (fs::exists(s.dir / "data" / "cohort.csv"))
    p += "Patients were split into training, validation and test sets (stratified by class, patient-level, ratios " +
         html_escape(split.value("ratios", "?")) + ", seed " + html_escape(split.value("seed", json()).dump()) + "). ";
  else
    p += "The manifest's own train/validation/test split was used (patient-level). ";
  std::vector<std::string> backbones;
  std::map<std::string, json> preprocessing;  // backbone -> preprocessing.json of one of its runs
  for (const auto& run : s.runs) {
    const json cfg = read_json_or_null(run / layout::kRunConfig);
    const std::string preset = cfg.value("backbone", json::object()).value("preset", "?");
    if (!preprocessing.count(preset)) preprocessing[preset] = read_json_or_null(run / "preprocessing.json");
  }
  if (study.contains("backbones")) {
    p += "Backbones: ";
    bool first = true;
    for (const auto& [name, b] : study["backbones"].items()) {
      const std::string preset = b.value("preset", name);
      const std::string weights = b.value("weights", "");
      std::string geometry;
      if (preprocessing.count(preset) && preprocessing[preset].is_object()) {
        const json& g = preprocessing[preset];
        geometry = ", input " + std::to_string(g.value("size", 0)) + " px (" + g.value("fit", "") + ", " +
                   g.value("interpolation", "") + ")";
      }
      p += std::string(first ? "" : "; ") + html_escape(name) + " (" + html_escape(preset) +
           (weights.empty() || weights == "random" ? ", random weights" : ", weights " + html_escape(fs::path(weights).filename().string())) +
           html_escape(geometry) + ")";
      first = false;
    }
    p += ". ";
  }
  if (study.contains("strategies")) {
    p += "Tuning strategies: ";
    bool first = true;
    for (const auto& [name, st] : study["strategies"].items()) {
      std::string params;
      for (const auto& [k, v] : st.items())
        if (k != "name") params += (params.empty() ? "" : ", ") + k + " " + v.dump();
      p += std::string(first ? "" : "; ") + html_escape(name) + " (" + html_escape(st.value("name", name)) +
           (params.empty() ? "" : ": " + html_escape(params)) + ")";
      first = false;
    }
    p += ". ";
  }
  if (study.contains("grid")) p += "Learning-rate grids (selected on validation macro AUC): " + html_escape(study["grid"].dump()) + ". ";
  if (study.contains("seeds")) p += "Seeds of the selected configuration: " + html_escape(study["seeds"].dump()) + ". ";
  if (!s.runs.empty()) {
    const json m = read_json_or_null(s.runs.front() / layout::kMetricsTest);
    const json b = m.value("bootstrap", json::object());
    p += "Test-set metrics carry " + fixed(100 * b.value("conf_level", 0.95), 0) + "% confidence intervals from " +
         std::to_string(b.value("replicates", 0)) + " " + (b.value("clustered", false) ? "patient-clustered " : "") +
         html_escape(b.value("method", "percentile")) +
         " bootstrap replicates; sensitivity and specificity use the Youden threshold chosen on the validation split. " +
         comparison_methods(s.compare);
    const json ex = read_json_or_null(s.runs.front() / layout::kExplainDir / layout::kExplainRecord);
    if (ex.is_object())
      p += "Explainability: IoU_bone on " + html_escape(ex.value("cam", "?")) + " maps" +
           other_maps(s.runs.front()) + ", Δbone by occluding the bone regions with the " +
           html_escape(ex.value("delta_bone", json::object()).value("fill", "?")) + " fill, on the " +
           html_escape(ex.value("split", "?")) + " split, with random-map and area-matched controls.";
  }
  return p + "</p>\n";
}

// ---- results ------------------------------------------------------------------------

std::string ranking_table(const Study& s) {
  if (!s.compare.is_object() || !s.compare.contains("ranking")) {
    return s.not_run("comparisons", "fewer than two finished variants (no sweep/compare.json)");
  }
  const json& r = s.compare["ranking"];
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : r["models"])
    rows.push_back({m.value("name", ""), fixed(m.value("auc_macro", NAN)), fixed(m.value("p_best", NAN)),
                    m.contains("p_holm_vs_best") && m["p_holm_vs_best"].is_number() ? fixed(m["p_holm_vs_best"].get<double>())
                                                                                     : "–",
                    m.value("not_below_best", false) ? "yes" : "no"});
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a[1] > b[1]; });
  size_t pairs = 0;
  const json comparisons = s.compare.value("comparisons", json::object());  // items() of a temporary would dangle
  for (const auto& [endpoint, list] : comparisons.items()) pairs += list.size();
  return html_table({"variant", "macro AUC", "P(best)", "Holm p vs best", "not significantly below the best"}, rows) +
         "<p class=\"note\">Best: " + html_escape(r.value("best", "")) + ". " + html_escape(r.value("definition", "")) +
         ". " + std::to_string(pairs) + " pairwise comparisons (DeLong, Holm; bootstrap differences) are in "
         "sweep/compare.json.</p>\n";
}

std::string variant_figures(const Study& s) {
  std::string h;
  for (const auto& run : s.runs) {
    const std::string name = run.filename().string();
    std::string figs = s.figure(run / "metrics_test_roc.svg", name + ": ROC curves per class (test)", "small");
    for (const char* e : {"osteoporosis_vs_rest", "low_bmd_vs_normal"}) {
      figs += s.figure(run / ("metrics_test_reliability_" + std::string(e) + ".svg"), name + ": reliability, " + e, "small");
      figs += s.figure(run / ("metrics_test_decision_" + std::string(e) + ".svg"), name + ": decision curve, " + e, "small");
    }
    if (!figs.empty()) h += "<details><summary>" + html_escape(name) + "</summary>\n<div class=\"grid\">" + figs + "</div></details>\n";
  }
  return h.empty() ? s.not_run("curves per variant", "no variant has its evaluation figures") : h;
}

// Subgroup AUCs (osteoporosis vs rest) of every variant evaluated with --by, as a forest plot.
std::string subgroup_section(const Study& s) {
  struct Point { std::string label; double auc; };
  std::vector<Point> points;
  for (const auto& run : s.runs) {
    const json m = read_json_or_null(run / layout::kMetricsTest);
    const json g = m.value("endpoints", json::object()).value("osteoporosis_vs_rest", json::object()).value("by_group", json());
    if (!g.is_object()) continue;
    for (const auto& [group, v] : g.items())
      if (v.value("auc", json()).is_number())
        points.push_back({run.filename().string() + " · " + group + " (n=" + std::to_string(v.value("n", 0)) + ")", v["auc"]});
  }
  if (points.empty()) {
    return s.not_run("subgroups", "the study's evaluations had no subgroup column (osteofm eval --by COLUMN)");
  }
  const int row = 22, left = 330, width = 760, plot_w = width - left - 30, top = 30;
  const int height = top + row * static_cast<int>(points.size()) + 50;
  auto X = [&](double auc) { return left + auc * plot_w; };
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">"
                    "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>";
  for (double t : {0.0, 0.25, 0.5, 0.75, 1.0})
    svg += "<line x1=\"" + fixed(X(t), 1) + "\" y1=\"" + std::to_string(top - 8) + "\" x2=\"" + fixed(X(t), 1) + "\" y2=\"" +
           std::to_string(height - 40) + "\" stroke=\"" + (t == 0.5 ? "#888" : "#ddd") + "\"/><text x=\"" + fixed(X(t), 1) +
           "\" y=\"" + std::to_string(height - 24) + "\" text-anchor=\"middle\">" + fixed(t, 2) + "</text>";
  for (size_t i = 0; i < points.size(); ++i) {
    const int y = top + row * static_cast<int>(i) + row / 2;
    svg += "<text x=\"" + std::to_string(left - 10) + "\" y=\"" + std::to_string(y + 4) + "\" text-anchor=\"end\">" +
           html_escape(points[i].label) + "</text><rect x=\"" + fixed(X(points[i].auc) - 4, 1) + "\" y=\"" +
           std::to_string(y - 4) + "\" width=\"8\" height=\"8\" fill=\"#0072B2\"/>";
  }
  svg += "<text x=\"" + fixed(left + plot_w / 2.0, 1) + "\" y=\"" + std::to_string(height - 6) +
         "\" text-anchor=\"middle\">AUC, osteoporosis vs rest (0.5: chance)</text></svg>";
  s.summary->figures++;
  return "<figure><img src=\"data:image/svg+xml;base64," + base64_encode(svg) +
         "\" alt=\"subgroup forest plot\"><figcaption>Subgroup AUCs (osteoporosis vs rest) per variant; subgroup "
         "intervals are not computed yet.</figcaption></figure>\n";
}

std::string explain_section(const Study& s) {
  std::string h;
  const std::string best = s.compare.is_object() ? s.compare.value("ranking", json::object()).value("best", "") : "";
  const fs::path overlays = s.sweep / best / layout::kExplainDir / "overlays";
  std::error_code ec;
  if (best.empty() || !fs::is_directory(overlays, ec)) {
    return s.not_run("explainability", "explain has not run on the best variant");
  }
  const json ex = read_json_or_null(s.sweep / best / layout::kExplainDir / layout::kExplainRecord);
  if (ex.contains("reference_levels") && ex["reference_levels"].is_object()) {
    h += "<p class=\"note\">Reference levels of IoU_bone (" + html_escape(best) + ", explain.json):</p>\n<ul class=\"note\">";
    for (const auto& [key, value] : ex["reference_levels"].items())
      h += "<li>" + html_escape(key) + ": " + html_escape(value.is_string() ? value.get<std::string>() : value.dump()) + "</li>";
    h += "</ul>\n";
  }
  std::vector<fs::path> pngs;
  for (const auto& e : fs::directory_iterator(overlays, ec))
    if (e.path().extension() == ".png") pngs.push_back(e.path());
  std::sort(pngs.begin(), pngs.end());
  h += "<div class=\"grid\">";
  for (size_t i = 0; i < pngs.size() && i < 6; i += 2)
    h += s.figure(pngs[i], best + ": " + pngs[i].stem().string() + " (" + ex.value("cam", "map") + " over the bone masks)", "small");
  return h + "</div>\n<p class=\"note\">IoU_bone and Δbone of every variant, with their controls, are in the main table.</p>\n";
}

std::string segmenter_section(const Study& s) {
  const json seg = s.record.value("segmentation", json());
  if (!seg.is_object() || !seg.value("used", false)) {
    return s.not_run("segmenter QC", seg.is_object() ? seg.value("reason", "no segmenter")
                                                     : "no segmenter was given (reproduce --segmenter)");
  }
  std::string h;
  std::error_code ec;
  std::vector<fs::path> sheets;
  for (const auto& e : fs::directory_iterator(s.dir / "data" / "segment", ec))
    if (e.path().filename().string().rfind("contact_sheet", 0) == 0) sheets.push_back(e.path());
  std::sort(sheets.begin(), sheets.end());
  for (const auto& p : sheets) h += s.figure(p, "Segmenter QC: " + p.filename().string() + " (red frames: flagged)");
  const json qc = read_json_or_null(s.dir / "data" / "segment" / "qc.json");
  if (qc.contains("flags")) h += "<p class=\"note\">Flags: " + html_escape(qc["flags"].dump()) + "</p>\n";
  return h.empty() ? s.not_run("segmenter QC", "no contact sheet in data/segment") : h;
}

// ---- checklist and provenance -------------------------------------------------------

std::string tripod_section(const Study& s) {
  const bool flow = s.ran("flow diagram"), subgroups = s.ran("subgroups");
  const std::vector<std::pair<std::string, std::string>> items = {
      {"Data: sources, dates, setting", flow ? "Cohort (flow diagram: the linkage rules and window)" : "not reported (the cohort did not come from data link)"},
      {"Participants: eligibility, exclusions", flow ? "Cohort, Figure 1" : "Cohort (data check counts only)"},
      {"Outcome: reference standard and its timing", flow ? "Figure 1 (reference T-score rule, DXA window); WHO classes" : "Methods (WHO classes of the manifest's T-score)"},
      {"Predictors / input: image preprocessing", "Methods (per backbone: input size, fit, interpolation; DICOM windowing)"},
      {"Sample size", "Table 1 (n by group), Results (test n in the table's CIs)"},
      {"Missing data", flow ? "Table 1 (missing counts), Figure 1 (exclusions)" : "Table 1 (missing counts), data check"},
      {"Analytical methods: model, tuning, selection", "Methods (backbones, strategies, grids, seeds, selection on validation)"},
      {"Class imbalance", "not reported (class counts are in Table 1)"},
      {"Fairness: performance in subgroups", subgroups ? "Results, subgroup forest plot" : "not reported (no subgroup evaluation)"},
      {"Model output and thresholds", "Methods (Youden threshold on validation), Results table"},
      {"Training versus evaluation data", "Methods (split rule), Table 1 by split"},
      {"Performance measures with uncertainty", "Results (AUC, sensitivity, specificity with bootstrap CIs; calibration)"},
      {"Model comparison", "Results (P(best), Holm-adjusted tests)"},
      {"Explainability", "Explainability section (IoU_bone, Δbone, controls)"},
      {"Model updating / recalibration", "not reported (osteofm eval --recalibrate on local data)"},
      {"Code and software availability", "Provenance (osteofm version and commit)"},
      {"Ethics approval, consent", "not reported"},
      {"Funding, conflicts of interest", "not reported"},
      {"Protocol, registration", "not reported"},
      {"Data sharing", "not reported"},
      {"Patient and public involvement", "not reported"},
      {"Interpretation, limitations", "not reported (the authors' discussion)"}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& [item, where] : items) rows.push_back({item, where});
  return html_table({"TRIPOD+AI topic", "where this report answers it"}, rows) +
         "<p class=\"note\">Topics of the TRIPOD+AI statement (Collins et al., BMJ 2024) that a study folder can "
         "answer; check the full checklist before submission.</p>\n";
}

std::string provenance_section(const Study& s) {
  std::vector<std::vector<std::string>> rows;
  std::set<std::string> listed;
  auto add = [&](const json& in) {
    const std::string path = in.value("path", "");
    if (path.empty() || !listed.insert(path).second) return;
    rows.push_back({in.value("role", ""), path, in.contains("size") ? std::to_string(in["size"].get<long long>()) : "missing",
                    in.value("sha256", "–")});
  };
  if (s.provenance.is_object())
    for (const auto& in : s.provenance.value("inputs", json::array())) add(in);
  else if (!s.manifest.empty())
    add(provenance_of_file({"manifest", s.manifest}));
  for (const char* f : {layout::kStudyRecord, layout::kReproduceRecord, "demo-sweep.json"})
    if (fs::exists(s.dir / f)) add(provenance_of_file({"study record", (s.dir / f).string()}));
  std::string h = html_table({"role", "file", "bytes", "SHA-256"}, rows);
  std::vector<std::vector<std::string>> commands;
  if (s.provenance.is_object())
    for (const auto& c : s.provenance.value("invocations", json::array()))
      commands.push_back({c.value("at", ""), c.value("command_line", "")});
  if (!command_line().empty()) commands.push_back({"(this report)", command_line()});
  h += "<h3>Command lines</h3>\n" + html_table({"when", "command"}, commands);
  const json host = s.provenance.is_object() ? s.provenance.value("host", json::object()) : json::object();
  const json libs = s.provenance.is_object() ? s.provenance.value("libraries", json::object()) : json::object();
  std::vector<std::vector<std::string>> machine;
  for (const auto& [k, v] : host.items()) machine.push_back({k, v.is_string() ? v.get<std::string>() : v.dump()});
  for (const auto& [k, v] : libs.items()) machine.push_back({k, v.is_string() ? v.get<std::string>() : v.dump()});
  machine.push_back({"osteofm", std::string(OSTEOFM_VERSION) + " (commit " + osteofm_commit() + ")"});
  h += "<h3>Machine</h3>\n" + html_table({"item", "value"}, machine);
  return h;
}

const char* const kStyle = R"css(
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; color: #111; max-width: 190mm; margin: 0 auto; padding: 12px; line-height: 1.4; }
h1 { font-size: 20pt; margin-bottom: 2px; } h2 { font-size: 15pt; border-bottom: 1px solid #999; margin-top: 28px; } h3 { font-size: 12pt; }
.subtitle { color: #444; } nav ol { columns: 2; }
table { border-collapse: collapse; font-size: 8.5pt; margin: 8px 0; width: 100%; }
th, td { border-bottom: 1px solid #ccc; padding: 2px 5px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
thead th { border-bottom: 2px solid #333; } td.sub { padding-left: 18px; }
figure { margin: 10px 0; text-align: center; } figure img { max-width: 100%; height: auto; }
figure.small { display: inline-block; width: 48%; vertical-align: top; }
figcaption { font-size: 9pt; color: #333; } .note { font-size: 9pt; color: #333; margin: 3px 0; }
.not-run { background: #fff4e5; border-left: 4px solid #e69f00; padding: 6px 10px; }
details { margin: 6px 0; } summary { cursor: pointer; font-weight: bold; }
.grid { display: block; } .wide { overflow-x: auto; } .wide table { font-size: 7.5pt; } .wide td, .wide th { white-space: nowrap; overflow-wrap: normal; } code { font-size: 9pt; word-break: break-all; }
@page { size: A4; margin: 14mm; }
@media print { .wide { overflow: visible; } .wide table { font-size: 5.6pt; } .wide td, .wide th { white-space: normal; } section { break-before: page; } details { display: block; } details > summary { display: none; } nav { display: none; } }
)css";

}  // namespace

StudyReportSummary write_study_report(const std::string& study_dir, const std::string& out_html) {
  StudyReportSummary summary;
  const Study s = open_study_folder(study_dir, &summary);
  std::string body;
  body += "<section id=\"cohort\"><h2>1. Cohort</h2>\n" + flow_section(s) + table_one_section(s) + "</section>\n";
  body += "<section id=\"methods\"><h2>2. Methods</h2>\n" + methods_section(s) + "</section>\n";
  body += "<section id=\"results\"><h2>3. Results</h2>\n";
  if (fs::exists(s.sweep / layout::kTableMarkdown))
    body += "<h3>Table 2. The variants on the test split</h3>\n<div class=\"wide\">" +
            html_from_markdown_table(read_file((s.sweep / layout::kTableMarkdown).string())) + "</div>\n";
  else
    body += s.not_run("results table", "the sweep has not finished (no sweep/table.md)");
  body += s.figure(s.sweep / "roc_macro.svg", "Figure 2. Macro-average ROC curves of the variants (test split)");
  body += "<h3>Comparisons</h3>\n" + ranking_table(s) + "<h3>Curves per variant</h3>\n" + variant_figures(s) +
          "<h3>Subgroups</h3>\n" + subgroup_section(s) + "</section>\n";
  body += "<section id=\"explainability\"><h2>4. Explainability</h2>\n" + explain_section(s) +
          "<h3>Bone masks from a segmenter</h3>\n" + segmenter_section(s) + "</section>\n";
  body += "<section id=\"tripod\"><h2>5. TRIPOD+AI checklist</h2>\n" + tripod_section(s) + "</section>\n";
  body += "<section id=\"provenance\"><h2>6. Provenance</h2>\n" + provenance_section(s) + "</section>\n";

  const std::string title = "osteofm study report: " + s.dir.filename().string();
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n"
                     "<title>" + html_escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  html += "<header><h1>" + html_escape(title) + "</h1>\n<p class=\"subtitle\">" + html_escape(s.dir.string()) +
          " · osteofm " + html_escape(OSTEOFM_VERSION) + " (commit " + html_escape(osteofm_commit()) + ")</p></header>\n";
  html += "<nav><ol><li><a href=\"#cohort\">Cohort</a></li><li><a href=\"#methods\">Methods</a></li><li><a "
          "href=\"#results\">Results</a></li><li><a href=\"#explainability\">Explainability</a></li><li><a "
          "href=\"#tripod\">TRIPOD+AI checklist</a></li><li><a href=\"#provenance\">Provenance</a></li></ol></nav>\n";
  html += body + "</body>\n</html>\n";
  write_file_atomic(out_html, html);
  summary.path = out_html;
  summary.bytes = html.size();
  return summary;
}

}  // namespace osteofm
