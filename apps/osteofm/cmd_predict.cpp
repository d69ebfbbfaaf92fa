// osteofm predict: class probabilities of a run's model per image, to CSV or stdout.
// With --out the CSV is written row by row into OUT.partial and renamed to OUT at the end:
// a killed batch keeps its rows, and the same command resumes after them.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "command.hpp"
#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "eval/screening.hpp"
#include "train/predict.hpp"

namespace osteofm::cli {
namespace fs = std::filesystem;

namespace {
// Every regular file under `dir` (hidden names skipped), sorted: the order of the CSV.
std::vector<std::string> files_under(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(dir + ": --input-dir is not a folder");
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) throw InputError(dir + ": --input-dir holds no files");
  return out;
}

// One path per line; blank lines and lines starting with '#' are skipped.
std::vector<std::string> files_listed(const std::string& list) {
  std::vector<std::string> out;
  std::istringstream in(read_file(list));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    out.push_back(line);
  }
  if (out.empty()) throw InputError(list + ": --list names no file");
  return out;
}

// The rows an interrupted run of the same run left in OUT.partial (a torn last line is
// dropped); rows of another run, or a file that does not parse, start over.
struct Partial {
  std::string header, rows;   // CSV text
  std::set<std::string> done;  // keys: path (files) or image_id (manifest rows)
  size_t not_scored = 0;       // of those, rows whose status is not ok
};
Partial read_partial(const std::string& path, const std::string& run, bool by_path) {
  Partial p;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return p;
  std::string text = read_file(path);
  const size_t last = text.rfind('\n');
  text.resize(last == std::string::npos ? 0 : last + 1);
  try {
    const CsvTable t = parse_csv(text, path);
    const int key = t.column(by_path ? "path" : "image_id"), run_col = t.column("run"), status = t.column("status");
    bool same = key >= 0 && run_col >= 0 && status >= 0;
    for (const auto& r : t.records) same = same && r.fields.size() == t.header.size() && r.fields[run_col] == run;
    if (!same) {
      std::cerr << "osteofm: warning: " << path << ": rows of another run; starting over\n";
      return p;
    }
    p.header = csv_line(t.header);
    for (const auto& r : t.records) {
      p.done.insert(r.fields[key]);
      p.rows += csv_line(r.fields);
      p.not_scored += r.fields[status] != "ok";
    }
  } catch (const InputError&) {
    std::cerr << "osteofm: warning: " << path << ": damaged; starting over\n";
    return Partial{};
  }
  return p;
}

// OUT.thresholds.json: the operating points behind the screen_* columns.
nlohmann::json thresholds_json(const PredictResult& res) {
  nlohmann::json t = {{"run", res.model.run}, {"rule", "youden, chosen on the run's validation predictions"},
                      {"positive_if", "score >= threshold"}};
  const char* score[2] = {"p_osteoporosis", "1 - p_normal"};
  const char* column[2] = {"screen_osteoporosis", "screen_low_bmd"};
  for (int e = 0; e < 2; ++e) {
    const auto& th = res.thresholds.threshold[e];
    t["endpoints"][endpoint_key(e)] = {{"column", column[e]},
                                      {"score", score[e]},
                                      {"threshold", th ? nlohmann::json(*th) : nlohmann::json(nullptr)},
                                      {"validation_sensitivity", res.thresholds.val_sensitivity[e]},
                                      {"validation_specificity", res.thresholds.val_specificity[e]}};
  }
  if (!res.thresholds.reason.empty()) t["reason"] = res.thresholds.reason;
  return t;
}
}  // namespace

void add_predict_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string run, out, data, input_dir, list;
    std::vector<std::string> images;
    PredictOptions predict;
  };
  auto o = std::make_shared<Options>();
  auto* p = root.add_subcommand(
      "predict",
      "Class probabilities of a finished run's model for images (DICOM, PNG, ...), with the screening decisions at the "
      "run's validation thresholds: one CSV row per input with status. Exit 0: all scored; 3: some inputs not scored "
      "(the CSV is complete); 2: bad usage or input; 1: runtime failure. With --out, an interrupted run resumes");
  p->add_option("--run", o->run, "Finished run folder")->required();
  p->add_option("IMAGE", o->images, "Image files");
  p->add_option("--input-dir", o->input_dir, "Every file under this folder (recursively, sorted; hidden names skipped)");
  p->add_option("--list", o->list, "A text file naming one image per line ('#' comments)");
  p->add_option("--data", o->data, "Instead of files: a manifest or tensor cache (every row, or --split)");
  p->add_option("--split", o->predict.split, "With --data: only this split");
  p->add_option("--out", o->out, "CSV file (default: stdout); written row by row, OUT.partial until complete");
  p->add_flag("--score-anyway", o->predict.score_anyway,
              "Score images that are no frontal chest radiograph (by default status=not_chest_radiograph, no score)");
  p->add_option("--batch", o->predict.batch, "Images per batch")->capture_default_str();
  p->add_option("--device", o->predict.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  commands.push_back({p, [o] {
    stop_safely_on_interrupt(o->out.empty() ? "predict stopped; run the same command again"
                                            : "predict stopped; the rows so far are in " + o->out +
                                                  ".partial: run the same command again to carry on after them");
    std::vector<std::string> files = o->images;
    if (!o->input_dir.empty())
      for (auto& f : files_under(o->input_dir)) files.push_back(std::move(f));
    if (!o->list.empty())
      for (auto& f : files_listed(o->list)) files.push_back(std::move(f));
    if (files.empty() == o->data.empty())
      throw InputError("predict: give images (IMAGE, --input-dir or --list) or --data, not both or neither");
    const bool by_path = o->data.empty();

    // Row by row into OUT.partial, after the rows of an interrupted run; renamed at the end.
    const std::string partial = o->out + ".partial";
    const std::string run_path = absolute_run_path(o->run);
    Partial before;
    if (!o->out.empty()) {
      before = read_partial(partial, run_path, by_path);
      o->predict.skip = before.done;
      if (!before.done.empty())
        std::cerr << "predict: " << before.done.size() << " rows kept from an interrupted run (" << partial << ")\n";
    }
    std::unique_ptr<std::ofstream> sink;
    auto on_rows = [&](const PredictResult& res, size_t first, size_t last) {
      if (o->out.empty()) return;
      if (!sink) {
        const std::string header = predictions_csv_header(res);
        if (!before.header.empty() && before.header != header)
          throw InputError(partial + ": its columns differ from this command's (another --data?); remove it or use "
                           "another --out");
        write_file_atomic(partial, header + before.rows);
        sink = std::make_unique<std::ofstream>(partial, std::ios::app | std::ios::binary);
        if (!*sink) throw RuntimeFailure(partial + ": cannot append");
      }
      for (size_t i = first; i < last; ++i) *sink << predictions_csv_row(res, res.rows[i]);
      sink->flush();
      if (!*sink) throw RuntimeFailure(partial + ": cannot append (disk full?)");
    };
    PredictResult res = by_path ? predict_files(o->run, files, o->predict, on_rows)
                                : predict_manifest(o->run, o->data, o->predict, on_rows);
    if (!o->out.empty()) {
      if (!sink) on_rows(res, 0, 0);  // every input was scored before: the header and the old rows
      sink.reset();
      write_file_atomic(o->out, read_file(partial));  // complete: OUT appears whole
      fs::remove(partial);
      write_file_atomic(o->out + ".thresholds.json", thresholds_json(res).dump(2) + "\n");
    } else {
      std::cout << predictions_csv(res);
    }
    size_t total = res.rows.size() + before.done.size(), failed = res.failed() + before.not_scored, not_chest = 0;
    for (const auto& r : res.rows) {
      for (const auto& w : r.warnings) std::cerr << "osteofm: warning: " << r.path << ": " << w << "\n";
      if (!r.ok) std::cerr << "osteofm: skipped: " << (r.path.empty() ? r.image_id : r.path) << ": " << r.error << "\n";
      not_chest += r.status == "not_chest_radiograph";
    }
    const auto& t = res.thresholds.threshold;
    std::cerr << "predict: screen_osteoporosis = p_osteoporosis >= " << (t[0] ? format_double(*t[0]) : "(none)")
              << ", screen_low_bmd = 1 - p_normal >= " << (t[1] ? format_double(*t[1]) : "(none)")
              << " (Youden thresholds on the run's validation split" << (res.thresholds.reason.empty() ? "" : "; " + res.thresholds.reason) << ")\n";
    if (!o->out.empty())
      std::cerr << o->out << ": " << total - failed << " of " << total << " images scored"
                << (before.done.empty() ? "" : " (" + std::to_string(before.done.size()) + " rows kept from before)")
                << "; thresholds in " << o->out << ".thresholds.json\n";
    if (failed > 0) {
      // Every input has its row; the exit code tells a script that some have no probabilities.
      std::cerr << "osteofm: error: " << failed << " of " << total << " inputs could not be scored (status "
                << (not_chest ? "not_chest_radiograph or error" : "error") << " in the CSV)\n";
      return 3;  // not 2: the command itself was right and its CSV is complete
    }
    return 0;
  }});
}

namespace {
const CommandRegistrar predict_registrar(130, add_predict_command);
}  // namespace

}  // namespace osteofm::cli
