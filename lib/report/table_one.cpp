#include "report/table_one.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "core/atomic_file.hpp"
#include "core/civil_date.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"
#include "core/text.hpp"
#include "eval/bootstrap.hpp"
#include "report/html.hpp"
#include "report/latex.hpp"

namespace osteofm {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Identifiers, file names and free text: never a characteristic of the cohort.
bool is_bookkeeping(const std::string& name) {
  static const std::set<std::string> kSkip = {"image_id", "patient_id", "path", "mask", "dicom_path", "png_path",
                                              "warnings", "status", "accession", "label", "cache_row"};
  return kSkip.count(name) > 0 || ends_with(name, "_id") || ends_with(name, "_uid") || ends_with(name, "_path");
}

// The class of each row: the label column when present, else the WHO class of t_score.
std::vector<std::string> class_of_rows(const CsvTable& t) {
  const int c_label = t.column("label"), c_t = t.column("t_score");
  std::vector<std::string> out(t.records.size());
  for (size_t i = 0; i < t.records.size(); ++i) {
    const auto& f = t.records[i].fields;
    if (c_label >= 0 && static_cast<size_t>(c_label) < f.size()) {
      if (auto l = parse_label(f[c_label])) out[i] = kClassNames[*l];
    } else if (c_t >= 0 && static_cast<size_t>(c_t) < f.size()) {
      if (auto v = parse_number(f[c_t])) out[i] = kClassNames[who_label(*v)];
    }
  }
  return out;
}

NumericSummary summarise_numbers(const std::vector<std::optional<double>>& values) {
  NumericSummary s;
  std::vector<double> v;
  for (const auto& x : values) {
    if (x) v.push_back(*x);
    else s.missing++;
  }
  s.n = v.size();
  if (v.empty()) {
    s.mean = s.sd = s.median = s.q1 = s.q3 = s.min = s.max = std::nan("");
    return s;
  }
  std::sort(v.begin(), v.end());
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(ss / (v.size() - 1)) : std::nan("");
  s.median = quantile_type7(v, 0.5);  // numpy's default (linear), on the sorted values
  s.q1 = quantile_type7(v, 0.25);
  s.q3 = quantile_type7(v, 0.75);
  s.min = v.front();
  s.max = v.back();
  return s;
}

CategoricalSummary summarise_levels(const std::vector<std::string>& values, const std::vector<std::string>& levels) {
  CategoricalSummary s;
  for (const auto& l : levels) s.counts.emplace_back(l, 0);
  for (const auto& v : values) {
    if (v.empty()) {
      s.missing++;
      continue;
    }
    for (auto& [l, n] : s.counts)
      if (l == v) n++;
  }
  return s;
}

std::vector<std::string> ordered_groups(const std::string& by, const std::set<std::string>& present) {
  std::vector<std::string> order;
  if (by == "label") order.assign(kClassNames.begin(), kClassNames.end());
  if (by == "split") order = {"train", "val", "test"};
  std::vector<std::string> out;
  for (const auto& g : order)
    if (present.count(g)) out.push_back(g);
  for (const auto& g : present)
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  return out;
}

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "–";
  std::string s = format_fixed(v, decimals);
  if (s == "-0" || s.find_first_not_of("-0.") == std::string::npos) s = s[0] == '-' ? s.substr(1) : s;  // no "-0.0"
  return s;
}

// Decimals for a column's printed statistics: fewer for large values (ages, days).
int decimals_for(const TableOneColumn& c) {
  const NumericSummary& all = c.numeric_by_group.front();
  const double m = std::max(std::fabs(all.median), all.q3 - all.q1);
  return !std::isfinite(m) ? 2 : m >= 100 ? 0 : m >= 10 ? 1 : 2;
}

std::string percent(size_t count, size_t of) {
  return of == 0 ? "–" : fixed(100.0 * static_cast<double>(count) / static_cast<double>(of), 1) + "%";
}

size_t present_n(const CategoricalSummary& s) {
  size_t n = 0;
  for (const auto& [l, k] : s.counts) n += k;
  return n;
}

// The table as rows of cells (label, then one cell per group), shared by Markdown and LaTeX.
struct TextRow {
  std::string label;
  std::vector<std::string> cells;
  bool heading = false;
};

std::vector<TextRow> text_rows(const TableOne& t) {
  std::vector<TextRow> rows;
  const size_t G = t.groups.size();
  for (const auto& c : t.columns) {
    if (c.numeric) {
      const int d = decimals_for(c);
      TextRow mean{c.name + ", mean ± SD", {}, true}, median{"  median [Q1, Q3]", {}, false};
      TextRow missing{"  missing", {}, false};
      bool any_missing = false;
      for (size_t g = 0; g < G; ++g) {
        const NumericSummary& s = c.numeric_by_group[g];
        mean.cells.push_back(s.n == 0 ? "–" : fixed(s.mean, d) + " ± " + fixed(s.sd, d));
        median.cells.push_back(s.n == 0 ? "–" : fixed(s.median, d) + " [" + fixed(s.q1, d) + ", " + fixed(s.q3, d) + "]");
        missing.cells.push_back(std::to_string(s.missing));
        any_missing = any_missing || s.missing > 0;
      }
      rows.push_back(mean);
      rows.push_back(median);
      if (any_missing) rows.push_back(missing);
    } else {
      rows.push_back({c.name + ", n (%)", std::vector<std::string>(G), true});
      for (size_t l = 0; l < c.categorical_by_group.front().counts.size(); ++l) {
        TextRow r{"  " + c.categorical_by_group.front().counts[l].first, {}, false};
        for (size_t g = 0; g < G; ++g) {
          const CategoricalSummary& s = c.categorical_by_group[g];
          r.cells.push_back(std::to_string(s.counts[l].second) + " (" + percent(s.counts[l].second, present_n(s)) + ")");
        }
        rows.push_back(r);
      }
      bool any_missing = false;
      TextRow missing{"  missing", {}, false};
      for (size_t g = 0; g < G; ++g) {
        missing.cells.push_back(std::to_string(c.categorical_by_group[g].missing));
        any_missing = any_missing || c.categorical_by_group[g].missing > 0;
      }
      if (any_missing) rows.push_back(missing);
    }
  }
  return rows;
}

std::string group_title(const TableOne& t, size_t g) {
  return (g == 0 ? std::string("All") : t.groups[g]) + " (n = " + std::to_string(t.group_n[g]) + ")";
}

}  // namespace

TableOne describe_table(const std::string& text, const std::string& source, const TableOneOptions& o) {
  const CsvTable t = parse_csv(text, source);
  TableOne out;
  out.source = source;
  out.by = o.by;
  const std::vector<std::string> classes = class_of_rows(t);
  const bool has_class = std::any_of(classes.begin(), classes.end(), [](const std::string& c) { return !c.empty(); });
  auto column_values = [&](const std::string& name) {
    std::vector<std::string> v(t.records.size());
    if (name == "class") return classes;
    const int c = t.column(name);
    for (size_t i = 0; i < t.records.size(); ++i)
      if (c >= 0 && static_cast<size_t>(c) < t.records[i].fields.size()) v[i] = std::string(trim(t.records[i].fields[c]));
    return v;
  };

  // The grouping.
  std::vector<std::string> group_of;
  if (o.by == "label") {
    if (!has_class) throw InputError(source + ": --by label needs a t_score or label column");
    group_of = classes;
  } else {
    if (t.column(o.by) < 0) throw InputError(source + ": --by " + o.by + ": no such column");
    group_of = column_values(o.by);
  }
  const std::set<std::string> present = [&] {
    std::set<std::string> s;
    for (const auto& g : group_of)
      if (!g.empty()) s.insert(g);
    return s;
  }();
  if (present.size() > static_cast<size_t>(o.max_levels))
    throw InputError(source + ": --by " + o.by + " has " + std::to_string(present.size()) + " distinct values (at most " +
                     std::to_string(o.max_levels) + ")");
  out.groups = {"all"};
  for (const auto& g : ordered_groups(o.by, present)) out.groups.push_back(g);
  std::vector<std::vector<size_t>> members(out.groups.size());
  for (size_t i = 0; i < group_of.size(); ++i) {
    members[0].push_back(i);
    for (size_t g = 1; g < out.groups.size(); ++g)
      if (group_of[i] == out.groups[g]) members[g].push_back(i);
  }
  for (const auto& m : members) out.group_n.push_back(m.size());
  const size_t ungrouped = members[0].size() - [&] {
    size_t n = 0;
    for (size_t g = 1; g < members.size(); ++g) n += members[g].size();
    return n;
  }();
  if (ungrouped > 0) out.notes.push_back(std::to_string(ungrouped) + " rows without a " + o.by + " are counted in All only");

  // The columns.
  std::vector<std::string> names = o.columns;
  const bool automatic = names.empty();
  if (automatic) {
    for (const auto& h : t.header)
      if (!is_bookkeeping(h) && h != o.by) names.push_back(h);
    if (o.by != "label" && has_class) names.push_back("class");
  }
  for (const auto& name : names) {
    if (name != "class" && t.column(name) < 0) throw InputError(source + ": --columns: no column '" + name + "'");
    const std::vector<std::string> values = column_values(name);
    bool all_numbers = true, all_dates = true, any = false;
    std::set<std::string> levels;
    for (const auto& v : values) {
      if (v.empty()) continue;
      any = true;
      all_numbers = all_numbers && parse_number(v).has_value();
      all_dates = all_dates && parse_iso_date(v).has_value();
      levels.insert(v);
    }
    if (!any) {
      out.notes.push_back(name + ": every value missing");
      continue;
    }
    if (all_dates && !all_numbers) {
      if (!automatic) throw InputError(source + ": --columns " + name + ": dates are not described (its values are YYYY-MM-DD)");
      out.notes.push_back(name + ": dates, not described");
      continue;
    }
    TableOneColumn col;
    col.name = name;
    col.numeric = all_numbers;
    if (!col.numeric && levels.size() > static_cast<size_t>(o.max_levels)) {
      if (!automatic)
        throw InputError(source + ": --columns " + name + ": " + std::to_string(levels.size()) +
                         " distinct values (a categorical column has at most " + std::to_string(o.max_levels) + ")");
      out.notes.push_back(name + ": " + std::to_string(levels.size()) + " distinct text values, not described");
      continue;
    }
    std::vector<std::string> level_order(levels.begin(), levels.end());
    level_order = ordered_groups(name == "class" ? "label" : name, levels);  // classes and splits in their order
    for (const auto& m : members) {
      if (col.numeric) {
        std::vector<std::optional<double>> v;
        for (size_t i : m) v.push_back(values[i].empty() ? std::nullopt : parse_number(values[i]));
        col.numeric_by_group.push_back(summarise_numbers(v));
      } else {
        std::vector<std::string> v;
        for (size_t i : m) v.push_back(values[i]);
        col.categorical_by_group.push_back(summarise_levels(v, level_order));
      }
    }
    out.columns.push_back(std::move(col));
  }
  return out;
}

TableOne describe_file(const std::string& path, const TableOneOptions& o) { return describe_table(read_file(path), path, o); }

nlohmann::json table_one_json(const TableOne& t) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"source", t.source}, {"by", t.by}, {"notes", t.notes}};
  j["group_order"] = t.groups;
  for (size_t g = 0; g < t.groups.size(); ++g) {
    nlohmann::json& G = j["groups"][t.groups[g]];
    G["n"] = t.group_n[g];
    for (const auto& c : t.columns) {
      if (c.numeric) {
        const NumericSummary& s = c.numeric_by_group[g];
        G[c.name] = {{"type", "numeric"}, {"n", s.n}, {"missing", s.missing}, {"mean", num(s.mean)}, {"sd", num(s.sd)},
                     {"median", num(s.median)}, {"q1", num(s.q1)}, {"q3", num(s.q3)}, {"min", num(s.min)},
                     {"max", num(s.max)}};
      } else {
        const CategoricalSummary& s = c.categorical_by_group[g];
        nlohmann::json counts = nlohmann::json::object(), pct = nlohmann::json::object();
        const size_t n = present_n(s);
        for (const auto& [level, k] : s.counts) {
          counts[level] = k;
          pct[level] = n == 0 ? nlohmann::json(nullptr) : nlohmann::json(100.0 * k / n);
        }
        G[c.name] = {{"type", "categorical"}, {"counts", counts}, {"percent", pct}, {"missing", s.missing}};
      }
    }
  }
  return j;
}

std::string table_one_markdown(const TableOne& t) {
  std::string s = "# Table 1: characteristics of " + t.source + " by " + t.by + "\n\n| Characteristic |";
  for (size_t g = 0; g < t.groups.size(); ++g) s += " " + group_title(t, g) + " |";
  s += "\n|---|";
  for (size_t g = 0; g < t.groups.size(); ++g) s += "---|";
  s += "\n";
  for (const auto& r : text_rows(t)) {
    std::string label = r.label;
    if (!r.heading) label = "&nbsp;&nbsp;" + label.substr(2);
    s += "| " + (r.heading ? "**" + label + "**" : label) + " |";
    for (const auto& c : r.cells) s += " " + c + " |";
    s += "\n";
  }
  s += "\nSD with n − 1; quartiles by linear interpolation; percentages of the non-missing values.\n";
  for (const auto& n : t.notes) s += "\n- " + n;
  if (!t.notes.empty()) s += "\n";
  return s;
}

std::string table_one_csv(const TableOne& t) {
  std::vector<std::string> header = {"variable", "level", "statistic"};
  for (const auto& g : t.groups) header.push_back(g);
  std::string s = csv_line(header);
  auto add = [&](const std::string& var, const std::string& level, const std::string& stat, auto value_of) {
    std::vector<std::string> row = {var, level, stat};
    for (size_t g = 0; g < t.groups.size(); ++g) row.push_back(value_of(g));
    s += csv_line(row);
  };
  add("n", "", "count", [&](size_t g) { return std::to_string(t.group_n[g]); });
  for (const auto& c : t.columns) {
    if (c.numeric) {
      const std::pair<const char*, double NumericSummary::*> stats[] = {
          {"mean", &NumericSummary::mean}, {"sd", &NumericSummary::sd}, {"median", &NumericSummary::median},
          {"q1", &NumericSummary::q1},     {"q3", &NumericSummary::q3}};
      for (const auto& [name, field] : stats)
        add(c.name, "", name, [&](size_t g) {
          const double v = c.numeric_by_group[g].*field;
          return std::isfinite(v) ? format_double(v) : std::string();
        });
      add(c.name, "", "missing", [&](size_t g) { return std::to_string(c.numeric_by_group[g].missing); });
    } else {
      for (size_t l = 0; l < c.categorical_by_group.front().counts.size(); ++l) {
        const std::string level = c.categorical_by_group.front().counts[l].first;
        add(c.name, level, "count", [&](size_t g) { return std::to_string(c.categorical_by_group[g].counts[l].second); });
        add(c.name, level, "percent", [&](size_t g) {
          const auto& s = c.categorical_by_group[g];
          const size_t n = present_n(s);
          return n == 0 ? std::string() : format_double(100.0 * s.counts[l].second / n);
        });
      }
      add(c.name, "", "missing", [&](size_t g) { return std::to_string(c.categorical_by_group[g].missing); });
    }
  }
  return s;
}

std::string table_one_latex(const TableOne& t) {
  std::string s = "% Table 1 by osteofm data describe; needs \\usepackage{booktabs}\n\\begin{table}[t]\n\\centering\n\\small\n";
  s += "\\caption{Characteristics of the cohort by " + latex_text(t.by) +
       ". Mean $\\pm$ SD (SD with $n-1$), median [Q1, Q3], or n (\\%) of the non-missing values.}\n";
  s += "\\label{tab:cohort}\n\\begin{tabular}{l" + std::string(t.groups.size(), 'r') + "}\n\\toprule\nCharacteristic";
  for (size_t g = 0; g < t.groups.size(); ++g) s += " & " + latex_text(group_title(t, g));
  s += " \\\\\n\\midrule\n";
  for (const auto& r : text_rows(t)) {
    s += r.heading ? latex_text(r.label) : "\\quad " + latex_text(r.label.substr(2));
    for (const auto& c : r.cells) s += " & " + latex_text(c);
    s += " \\\\\n";
  }
  s += "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
  return s;
}

std::string table_one_html(const TableOne& t) {
  std::vector<std::string> header = {"Characteristic"};
  for (size_t g = 0; g < t.groups.size(); ++g) header.push_back(group_title(t, g));
  std::string s = "<table class=\"table-one\">\n<thead><tr>";
  for (const auto& h : header) s += "<th>" + html_escape(h) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& r : text_rows(t)) {
    s += r.heading ? "<tr><th scope=\"row\">" + html_escape(r.label) + "</th>"
                   : "<tr><td class=\"sub\">" + html_escape(r.label.substr(2)) + "</td>";
    for (const auto& c : r.cells) s += "<td>" + html_escape(c) + "</td>";
    s += "</tr>\n";
  }
  s += "</tbody>\n</table>\n<p class=\"note\">Mean &plusmn; SD (SD with n &minus; 1), median [Q1, Q3] (linear "
       "interpolation), or n (%) of the non-missing values.</p>\n";
  for (const auto& n : t.notes) s += "<p class=\"note\">" + html_escape(n) + "</p>\n";
  return s;
}

void write_table_one(const TableOne& t, const std::string& prefix) {
  write_file_atomic(prefix + ".json", table_one_json(t).dump(1) + "\n");
  write_file_atomic(prefix + ".csv", table_one_csv(t));
  write_file_atomic(prefix + ".tex", table_one_latex(t));
  write_file_atomic(prefix + ".md", table_one_markdown(t));
}

}  // namespace osteofm
