// Table 1 (osteofm data describe): the cohort's characteristics by group (class, split or
// any column) and overall, as Markdown, CSV, LaTeX and JSON. Numeric columns: mean, SD
// (n - 1), median and quartiles (linear interpolation, numpy's default) and the missing
// count; categorical ones: counts and percentages of the non-missing values (as pandas'
// value_counts(normalize=True)).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace osteofm {

struct TableOneOptions {
  std::string by = "label";          // label (the WHO class of t_score, or the label column), split, or a column
  std::vector<std::string> columns;  // empty: chosen automatically
  int max_levels = 20;               // a text column with more distinct values is not described (ids, free text)
};

struct NumericSummary {
  size_t n = 0, missing = 0;
  double mean = 0, sd = 0, median = 0, q1 = 0, q3 = 0, min = 0, max = 0;
};
struct CategoricalSummary {
  size_t missing = 0;
  std::vector<std::pair<std::string, size_t>> counts;  // levels in the column's order (sorted)
};

struct TableOneColumn {
  std::string name;
  bool numeric = false;
  std::vector<NumericSummary> numeric_by_group;          // one per group (groups[0] is "all")
  std::vector<CategoricalSummary> categorical_by_group;
};

struct TableOne {
  std::string source, by;
  std::vector<std::string> groups;  // "all", then the group values
  std::vector<size_t> group_n;
  std::vector<TableOneColumn> columns;
  std::vector<std::string> notes;   // columns skipped and why
};

TableOne describe_table(const std::string& csv_text, const std::string& source, const TableOneOptions& options);
TableOne describe_file(const std::string& csv_path, const TableOneOptions& options);

nlohmann::json table_one_json(const TableOne& t);
std::string table_one_markdown(const TableOne& t);
std::string table_one_csv(const TableOne& t);
std::string table_one_latex(const TableOne& t);
std::string table_one_html(const TableOne& t);  // a <table> and its notes, for the study report
// PREFIX.md, .csv, .tex, .json, each atomically.
void write_table_one(const TableOne& t, const std::string& prefix);

}  // namespace osteofm
