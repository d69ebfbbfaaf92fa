// osteofm data describe: Table 1 of a manifest or cohort (report/table_one.hpp).
#include <iostream>
#include <memory>

#include "command.hpp"
#include "report/table_one.hpp"

namespace osteofm::cli {

void add_data_describe_command(CLI::App& root, Commands& commands) {
  CLI::App* data = root.get_subcommand("data");
  struct DescribeCmd {
    std::string manifest, out;
    TableOneOptions options;
  };
  auto o = std::make_shared<DescribeCmd>();
  auto* d = data->add_subcommand("describe", "Table 1: the cohort's characteristics by class, split or any column "
                                             "(Markdown, CSV, LaTeX, JSON)");
  d->add_option("MANIFEST", o->manifest, "Manifest or cohort CSV (data link's COHORT.csv, data split's output)")
      ->required();
  d->add_option("--by", o->options.by, "label (the WHO class of t_score), split, or any column")->capture_default_str();
  d->add_option("--columns", o->options.columns,
                "Columns to describe, comma-separated (default: every column but ids, paths and dates; numeric or "
                "categorical by their values)")
      ->delimiter(',');
  d->add_option("--max-levels", o->options.max_levels, "A text column with more distinct values is not described")
      ->capture_default_str()
      ->check(CLI::Range(2, 1000));
  d->add_option("--out", o->out, "Output prefix: PREFIX.md, PREFIX.csv, PREFIX.tex, PREFIX.json")->required();
  commands.push_back({d, [o] {
    const TableOne t = describe_file(o->manifest, o->options);
    write_table_one(t, o->out);
    std::cout << table_one_markdown(t) << "\nfiles: " << o->out << ".md, " << o->out << ".csv, " << o->out << ".tex, "
              << o->out << ".json\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar data_describe_registrar(33, add_data_describe_command);
}  // namespace

}  // namespace osteofm::cli
