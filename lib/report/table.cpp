#include "report/table.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
json read_json(const fs::path& p) {
  json j = json::parse(read_file(p.string()), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InputError(p.string() + ": not a JSON object");
  return j;
}
std::string name_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    for (const char* k : {"name", "preset", "family"})
      if (v.contains(k) && v[k].is_string()) return v[k].get<std::string>();
  }
  return "";
}
Estimate estimate_at(const json& m, const std::string& key, const fs::path& file) {
  const json* node = &m;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot - start);
    if (!node->contains(part)) throw InputError(file.string() + ": missing key '" + key + "'");
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!node->contains("estimate") || !(*node)["estimate"].is_number())
    throw InputError(file.string() + ": '" + key + "' has no numeric estimate");
  Estimate e;
  e.value = (*node)["estimate"].get<double>();
  if (node->contains("ci") && (*node)["ci"].is_array() && (*node)["ci"].size() == 2) {
    e.lower = (*node)["ci"][0].get<double>();
    e.upper = (*node)["ci"][1].get<double>();
  }
  return e;
}
int rank(const std::string& s, const std::vector<std::string>& order) {
  for (size_t i = 0; i < order.size(); ++i)
    if (s.rfind(order[i], 0) == 0) return static_cast<int>(i);
  return static_cast<int>(order.size());
}
int strategy_rank(const std::string& s) {
  if (s.find("linear") != std::string::npos || s == "probe") return 0;
  if (s.find("partial") != std::string::npos) return 1;
  if (s.find("lora") != std::string::npos) return 2;
  return 3;
}
std::string fmt3(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}
std::string with_ci(const Estimate& e) {
  if (!e.lower) return fmt3(e.value);
  return fmt3(e.value) + " [" + fmt3(*e.lower) + ", " + fmt3(*e.upper) + "]";
}
std::string params(const std::optional<long long>& p) {
  if (!p) return "";
  char b[32];
  if (*p >= 1000000) std::snprintf(b, sizeof b, "%.2fM", *p / 1e6);
  else if (*p >= 1000) std::snprintf(b, sizeof b, "%.1fk", *p / 1e3);
  else std::snprintf(b, sizeof b, "%lld", *p);
  return b;
}
std::string num(const std::optional<double>& v) { return v ? format_double(*v) : ""; }
}  // namespace

std::vector<VariantRow> collect_sweep(const std::string& sweep_dir) {
  std::error_code ec;
  if (!fs::is_directory(sweep_dir, ec)) throw InputError(sweep_dir + ": not a folder");
  std::vector<VariantRow> rows;
  for (const auto& entry : fs::directory_iterator(sweep_dir)) {
    const fs::path run = entry.path();
    const fs::path metrics = run / "metrics_test.json";
    if (!entry.is_directory() || !fs::exists(metrics)) continue;
    VariantRow r;
    r.run = run.filename().string();
    if (fs::exists(run / "config.json")) {
      const json c = read_json(run / "config.json");
      if (c.contains("backbone")) r.backbone = name_of(c["backbone"]);
      if (c.contains("strategy")) r.strategy = name_of(c["strategy"]);
    }
    if (r.backbone.empty() || r.strategy.empty()) {
      // Fall back on the sweep's folder naming <backbone>-<strategy>.
      const auto dash = r.run.rfind('-');
      if (r.backbone.empty()) r.backbone = dash == std::string::npos ? r.run : r.run.substr(0, dash);
      if (r.strategy.empty()) r.strategy = dash == std::string::npos ? "" : r.run.substr(dash + 1);
    }
    if (fs::exists(run / "status.json")) {
      const json s = read_json(run / "status.json");
      if (s.contains("trainable_parameters") && s["trainable_parameters"].is_number_integer())
        r.trainable_parameters = s["trainable_parameters"].get<long long>();
    }
    const json m = read_json(metrics);
    r.auc_macro = estimate_at(m, "auc_macro", metrics);
    r.auc_osteoporosis = estimate_at(m, "auc_osteoporosis_vs_rest", metrics);
    r.accuracy = estimate_at(m, "accuracy", metrics);
    r.sensitivity = estimate_at(m, "sensitivity.osteoporosis", metrics);
    r.specificity = estimate_at(m, "specificity.osteoporosis", metrics);
    const fs::path ex = run / "explain" / "explain.json";
    if (fs::exists(ex)) {
      const json e = read_json(ex);
      if (e.contains("delta_bone")) r.delta_bone = estimate_at(e, "delta_bone.all", ex);
      if (e.contains("iou_bone")) r.iou_bone = estimate_at(e, "iou_bone.all", ex);
      r.iou_bone_cam = e.contains("cam") && e["cam"].is_string() ? e["cam"].get<std::string>() : "gradcam";
    }
    rows.push_back(std::move(r));
  }
  if (rows.empty()) throw InputError(sweep_dir + ": no run folder with metrics_test.json (run osteofm eval first)");
  const std::vector<std::string> families = {"openclip", "dinov2", "chexagent", "rad-dino"};
  std::sort(rows.begin(), rows.end(), [&](const VariantRow& a, const VariantRow& b) {
    const int fa = rank(a.backbone, families), fb = rank(b.backbone, families);
    if (fa != fb) return fa < fb;
    if (a.backbone != b.backbone) return a.backbone < b.backbone;
    const int sa = strategy_rank(a.strategy), sb = strategy_rank(b.strategy);
    return sa != sb ? sa < sb : a.strategy < b.strategy;
  });
  auto best = std::max_element(rows.begin(), rows.end(), [](const VariantRow& a, const VariantRow& b) {
    return a.auc_macro.value < b.auc_macro.value;
  });
  best->best = true;
  return rows;
}

std::string format_table(const std::vector<VariantRow>& rows, const std::string& format) {
  std::string out;
  if (format == "csv") {
    out = csv_line({"backbone", "strategy", "trainable_parameters", "auc_macro", "auc_macro_lower", "auc_macro_upper",
                    "auc_osteoporosis", "auc_osteoporosis_lower", "auc_osteoporosis_upper", "accuracy",
                    "sensitivity_osteoporosis", "specificity_osteoporosis", "delta_bone", "iou_bone", "iou_bone_cam", "best", "run"});
    for (const auto& r : rows)
      out += csv_line({r.backbone, r.strategy, r.trainable_parameters ? std::to_string(*r.trainable_parameters) : "",
                       format_double(r.auc_macro.value), num(r.auc_macro.lower), num(r.auc_macro.upper),
                       format_double(r.auc_osteoporosis.value), num(r.auc_osteoporosis.lower),
                       num(r.auc_osteoporosis.upper), format_double(r.accuracy.value), format_double(r.sensitivity.value),
                       format_double(r.specificity.value), r.delta_bone ? format_double(r.delta_bone->value) : "",
                       r.iou_bone ? format_double(r.iou_bone->value) : "", r.iou_bone ? r.iou_bone_cam : "",
                       r.best ? "1" : "0", r.run});
    return out;
  }
  const std::vector<std::string> head = {"Backbone", "Strategy", "Trainable params", "Macro AUC [95% CI]",
                                         "Osteoporosis AUC [95% CI]", "Accuracy", "Sensitivity", "Specificity",
                                         "Δbone", "IoU_bone"};
  auto cells = [&](const VariantRow& r, bool latex) {
    std::string macro = with_ci(r.auc_macro);
    if (r.best) macro = latex ? "\\textbf{" + macro + "}" : "**" + macro + "**";
    return std::vector<std::string>{r.backbone, r.strategy, params(r.trainable_parameters), macro,
                                    with_ci(r.auc_osteoporosis), fmt3(r.accuracy.value), fmt3(r.sensitivity.value),
                                    fmt3(r.specificity.value), r.delta_bone ? with_ci(*r.delta_bone) : "",
                                    r.iou_bone ? with_ci(*r.iou_bone) : ""};
  };
  if (format == "md") {
    auto line = [](const std::vector<std::string>& c) {
      std::string s = "|";
      for (const auto& x : c) s += " " + x + " |";
      return s + "\n";
    };
    out = line(head);
    out += "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for (const auto& r : rows) out += line(cells(r, false));
    out += "\nBold: best macro AUC. Sensitivity and specificity of osteoporosis vs rest (argmax).\n";
    std::set<std::string> cams;
    for (const auto& r : rows)
      if (r.iou_bone) cams.insert(r.iou_bone_cam);
    if (!cams.empty()) {
      std::string list;
      for (const auto& c : cams) list += (list.empty() ? "" : ", ") + c;
      out += "IoU_bone: all bones, top-k policy, on " + list + " maps.\n";
    }
    return out;
  }
  if (format == "latex") {
    auto tex = [](std::string s) {
      std::string o;
      for (char c : s) {
        if (c == '_' || c == '%' || c == '&' || c == '#') o += '\\';
        o += c;
      }
      return o;
    };
    out = "\\begin{tabular}{llrrrrrrrr}\n\\toprule\n";
    out += "Backbone & Strategy & Trainable & Macro AUC [95\\% CI] & Osteoporosis AUC [95\\% CI] & Acc. & Sens. & Spec. & "
           "$\\Delta_\\mathrm{bone}$ & IoU$_\\mathrm{bone}$ \\\\\n\\midrule\n";
    for (const auto& r : rows) {
      auto c = cells(r, true);
      for (size_t i = 0; i < c.size(); ++i) out += (i ? " & " : "") + (i == 3 && r.best ? c[i] : tex(c[i]));
      out += " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}\n";
    return out;
  }
  throw InputError("--format must be md, csv or latex, not '" + format + "'");
}

}  // namespace osteofm
