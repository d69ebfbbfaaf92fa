#include "report/flow_diagram.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "report/html.hpp"
#include "core/labels.hpp"
#include "io/manifest.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/imgproc.hpp>

#include "io/annotate.hpp"
#endif

namespace osteofm {

namespace {

// Geometry shared by both renderers, in pixels.
constexpr int kLine = 20, kPad = 10, kCharWidth = 7, kGap = 36, kMargin = 20, kTitle = 34;

struct PlacedBox {
  int x, y, w, h;
  const FlowBox* box;
};
struct Arrow {
  int x0, y0, x1, y1;
};
struct FlowLayout {
  int width = 0, height = 0;
  std::vector<PlacedBox> boxes;
  std::vector<Arrow> arrows;      // with a head at (x1, y1)
  std::vector<Arrow> plain_lines; // without
};

int text_width(const FlowBox& b) {
  size_t chars = 0;
  for (const auto& l : b.lines) chars = std::max(chars, l.size());
  return static_cast<int>(chars) * kCharWidth + 2 * kPad;
}
int box_height(const FlowBox& b) { return static_cast<int>(b.lines.size()) * kLine + 2 * kPad - 4; }

FlowLayout lay_out_flow(const FlowDiagram& d) {
  FlowLayout L;
  const int main_w = std::max({260, text_width(d.source), text_width(d.included)});
  const int side_w = std::max(240, text_width(d.excluded));
  const size_t n_out = d.outcomes.size();
  int out_w = 160;
  for (const auto& b : d.outcomes) out_w = std::max(out_w, text_width(b));
  const int row_w = static_cast<int>(n_out) * out_w + static_cast<int>(n_out > 0 ? n_out - 1 : 0) * 24;
  const int main_x = kMargin + std::max(0, (row_w - main_w) / 2);
  const int centre = main_x + main_w / 2;
  L.width = std::max({main_x + main_w + 60 + side_w + kMargin, kMargin * 2 + row_w, 2 * kMargin + main_w});
  int y = kMargin + kTitle;
  const PlacedBox top{main_x, y, main_w, box_height(d.source), &d.source};
  y += top.h;
  const int side_h = d.excluded.lines.empty() ? 0 : box_height(d.excluded);
  const int span = std::max(2 * kGap, side_h + 2 * kGap / 2);
  const PlacedBox side{main_x + main_w + 60, y + (span - side_h) / 2, side_w, side_h, &d.excluded};
  y += span;
  const PlacedBox mid{main_x, y, main_w, box_height(d.included), &d.included};
  L.boxes = {top, mid};
  L.arrows.push_back({centre, top.y + top.h, centre, mid.y});
  if (side_h > 0) {
    L.boxes.push_back(side);
    L.arrows.push_back({centre, side.y + side.h / 2, side.x, side.y + side.h / 2});
  }
  y = mid.y + mid.h;
  if (n_out > 0) {
    const int bus = y + kGap / 2;
    const int row_x = kMargin + std::max(0, (L.width - 2 * kMargin - row_w) / 2);
    int out_h = 0;
    for (const auto& b : d.outcomes) out_h = std::max(out_h, box_height(b));
    L.plain_lines.push_back({centre, y, centre, bus});
    const int first_c = row_x + out_w / 2, last_c = row_x + static_cast<int>(n_out - 1) * (out_w + 24) + out_w / 2;
    if (n_out > 1) L.plain_lines.push_back({first_c, bus, last_c, bus});
    for (size_t k = 0; k < n_out; ++k) {
      const int x = row_x + static_cast<int>(k) * (out_w + 24);
      L.boxes.push_back({x, y + kGap, out_w, out_h, &d.outcomes[k]});
      L.arrows.push_back({x + out_w / 2, bus, x + out_w / 2, y + kGap});
    }
    y += kGap + out_h;
  }
  L.height = y + kMargin;
  return L;
}


std::string count_text(const nlohmann::json& v) { return std::to_string(v.get<long long>()); }

}  // namespace

FlowDiagram cohort_flow_diagram(const nlohmann::json& file) {
  const nlohmann::json& f = file.at("flow");
  const nlohmann::json rules = file.value("rules", nlohmann::json::object());
  FlowDiagram d;
  d.title = "Participant flow (STARD)";
  d.source = {{"Radiographs in the image index", "n = " + count_text(f.at("n_in"))}};
  long long excluded = 0;
  std::vector<std::string> reasons;
  // The rules' order, as data link recorded it (a JSON object's keys are sorted).
  std::vector<std::string> order = file.value("exclusion_order", std::vector<std::string>{});
  for (const auto& [key, value] : f.items())
    if (key.rfind("excluded_", 0) == 0 && std::find(order.begin(), order.end(), key.substr(9)) == order.end())
      order.push_back(key.substr(9));
  for (const auto& reason : order) {
    const std::string key = "excluded_" + reason;
    if (!f.contains(key) || !f[key].is_number()) continue;
    const nlohmann::json& value = f[key];
    excluded += value.get<long long>();
    if (value.get<long long>() > 0) {
      std::string name = reason;
      if (file.contains("exclusion_labels") && file["exclusion_labels"].contains(reason))
        name = file["exclusion_labels"][reason].get<std::string>();
      else
        std::replace(name.begin(), name.end(), '_', ' ');
      reasons.push_back(name + ": n = " + count_text(value));
    }
  }
  d.excluded.lines.push_back("Excluded: n = " + std::to_string(excluded));
  for (auto& r : reasons) d.excluded.lines.push_back(std::move(r));
  d.included = {{"Linked to a DXA exam", "n = " + count_text(f.at("n_out")) + " images, " +
                                              count_text(f.at("n_patients_out")) + " patients"}};
  if (rules.contains("reference"))
    d.included.lines.push_back("reference T-score: " + rules["reference"].get<std::string>() +
                               (rules.contains("window_days")
                                    ? ", DXA within " + std::to_string(rules["window_days"].get<int>()) + " days" +
                                          (rules.value("direction", "any") == "any"
                                               ? std::string()
                                               : " " + rules["direction"].get<std::string>() + " the image")
                                    : std::string()));
  const nlohmann::json by_split = f.value("classes_out_by_split", nlohmann::json::object());
  for (const auto& [name, n] : f.at("classes_out").items()) {
    FlowBox b{{name, "n = " + count_text(n)}};
    for (const char* split : {"train", "val", "test"})
      if (by_split.contains(split) && by_split[split].contains(name))
        b.lines.push_back(std::string(split) + ": " + count_text(by_split[split][name]));
    d.outcomes.push_back(std::move(b));
  }
  return d;
}

nlohmann::json cohort_flow_with_splits(nlohmann::json file, const Manifest& m) {
  nlohmann::json by_split = nlohmann::json::object();
  for (const auto& r : m.rows) {
    if (r.split.empty() || r.label < 0) continue;
    for (const auto* name : kClassNames) by_split[r.split].emplace(name, 0);
    by_split[r.split][kClassNames[r.label]] = by_split[r.split][kClassNames[r.label]].get<long long>() + 1;
  }
  file["flow"]["classes_out_by_split"] = by_split;
  return file;
}

std::string render_flow_svg(const FlowDiagram& d) {
  const FlowLayout L = lay_out_flow(d);
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << L.width << "\" height=\"" << L.height
    << "\" viewBox=\"0 0 " << L.width << " " << L.height << "\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n";
  o << "<defs><marker id=\"head\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" refY=\"4\" orient=\"auto\">"
       "<path d=\"M0,0 L10,4 L0,8 z\" fill=\"#000\"/></marker></defs>\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  o << "<text x=\"" << L.width / 2 << "\" y=\"" << kMargin + 14 << "\" text-anchor=\"middle\" font-size=\"16\">"
    << html_escape(d.title) << "</text>\n";
  for (const auto& a : L.plain_lines)
    o << "<line x1=\"" << a.x0 << "\" y1=\"" << a.y0 << "\" x2=\"" << a.x1 << "\" y2=\"" << a.y1
      << "\" stroke=\"#000\" stroke-width=\"1.2\"/>\n";
  for (const auto& a : L.arrows)
    o << "<line x1=\"" << a.x0 << "\" y1=\"" << a.y0 << "\" x2=\"" << a.x1 << "\" y2=\"" << a.y1
      << "\" stroke=\"#000\" stroke-width=\"1.2\" marker-end=\"url(#head)\"/>\n";
  for (const auto& b : L.boxes) {
    o << "<rect x=\"" << b.x << "\" y=\"" << b.y << "\" width=\"" << b.w << "\" height=\"" << b.h
      << "\" fill=\"#fff\" stroke=\"#000\" stroke-width=\"1.2\"/>\n";
    for (size_t k = 0; k < b.box->lines.size(); ++k)
      o << "<text x=\"" << b.x + kPad << "\" y=\"" << b.y + kPad + 12 + static_cast<int>(k) * kLine
        << "\" font-size=\"13\"" << (k == 0 ? " font-weight=\"bold\"" : "") << ">" << html_escape(b.box->lines[k])
        << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

void write_flow_svg(const std::string& path, const FlowDiagram& d) { write_file_atomic(path, render_flow_svg(d)); }

#if OSTEOFM_WITH_IMAGE_IO
void write_flow_png(const std::string& path, const FlowDiagram& d) {
  const FlowLayout L = lay_out_flow(d);
  const double scale = 1.5;  // print resolution
  auto S = [&](int v) { return static_cast<int>(v * scale + 0.5); };
  cv::Mat img(S(L.height), S(L.width), CV_8UC3, cv::Scalar(255, 255, 255));
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  const cv::Scalar ink(0, 0, 0);
  auto put = [&](const std::string& s, int x, int y, double size, int thickness, bool centre) {
    int base = 0;
    const cv::Size sz = cv::getTextSize(s, font, size, thickness, &base);
    cv::putText(img, s, cv::Point(S(x) - (centre ? sz.width / 2 : 0), S(y)), font, size, ink, thickness, cv::LINE_AA);
  };
  put(d.title, L.width / 2, kMargin + 14, 0.65, 1, true);
  for (const auto& a : L.plain_lines) cv::line(img, {S(a.x0), S(a.y0)}, {S(a.x1), S(a.y1)}, ink, 2, cv::LINE_AA);
  for (const auto& a : L.arrows) {
    const double len = std::hypot(a.x1 - a.x0, a.y1 - a.y0);
    cv::arrowedLine(img, {S(a.x0), S(a.y0)}, {S(a.x1), S(a.y1)}, ink, 2, cv::LINE_AA, 0, len > 0 ? 9.0 / len : 0.1);
  }
  for (const auto& b : L.boxes) {
    cv::rectangle(img, {S(b.x), S(b.y)}, {S(b.x + b.w), S(b.y + b.h)}, ink, 2, cv::LINE_AA);
    for (size_t k = 0; k < b.box->lines.size(); ++k)
      put(b.box->lines[k], b.x + kPad, b.y + kPad + 12 + static_cast<int>(k) * kLine, 0.52, k == 0 ? 2 : 1, false);
  }
  write_png_atomic(path, img);
}
#else
void write_flow_png(const std::string& path, const FlowDiagram&) {
  throw InputError(path + ": this build has no image I/O (OSTEOFM_WITH_IMAGE_IO=OFF); the SVG is written instead");
}
#endif

}  // namespace osteofm
