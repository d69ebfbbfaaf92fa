#include "data/image_index.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/file_names.hpp"
#include "core/parallel.hpp"
#include "core/progress.hpp"
#include "io/dicom_header.hpp"
#include "io/image.hpp"

namespace fs = std::filesystem;

namespace osteofm {

namespace {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// Every regular file under `root` (links to files followed, links to folders not: a
// PACS export can hold loops), sorted; the index's own outputs left out.
std::vector<fs::path> files_under(const fs::path& root, const std::set<fs::path>& skip) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw InputError(root.string() + ": not a folder");
  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw InputError(root.string() + ": cannot be read: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw InputError(root.string() + ": cannot be walked: " + ec.message());
    const fs::path p = fs::absolute(it->path()).lexically_normal();
    if (skip.count(p)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  return files;
}

// With --png-out, `path` is the PNG (empty when there is none: nothing to train on) and
// dicom_path the source; without, `path` is the DICOM file.
std::vector<std::string> row_of(const DicomHeader& h, const std::string& image_id, const std::string& dicom_path,
                                bool with_png, const std::string& png_path) {
  auto num = [](int v) { return v > 0 ? std::to_string(v) : std::string(); };
  std::vector<std::string> row = {image_id, h.patient_id, with_png ? png_path : dicom_path};
  if (with_png) row.push_back(dicom_path);
  const std::vector<std::string> rest = {h.study_date, h.accession, h.modality, h.body_part, h.view_position,
                                         h.sex, h.age, h.manufacturer, h.model, num(h.rows), num(h.columns),
                                         h.pixel_spacing, h.photometric, num(h.bits_stored), h.status,
                                         join(h.warnings, ";")};
  row.insert(row.end(), rest.begin(), rest.end());
  return row;
}

// One file: its header, and with --png-out the decoded image. An error of any kind
// becomes the row's status.
std::vector<std::string> index_file(const fs::path& file, const fs::path& root, const ImageIndexOptions& o,
                                    bool* wrote_png) {
  DicomHeader h;
  try {
    h = read_dicom_header(file.string());
  } catch (const std::exception& e) {
    h.status = std::string("unreadable: ") + one_line(e.what());
  }
  // Files that are no image keep a unique id: their path inside the folder.
  const std::string id = h.sop_instance_uid.empty() ? fs::relative(file, root).string() : h.sop_instance_uid;
  std::string png;
  if (!o.png_out.empty() && h.status == "ok") {
    png = (fs::absolute(o.png_out).lexically_normal() / (file_stem_for_id(id) + ".png")).string();
    try {
      if (!fs::exists(png)) write_png(png, read_dicom(file.string()), 16);
      *wrote_png = true;
    } catch (const std::exception& e) {
      std::string why = one_line(e.what());
      if (why.rfind(file.string() + ": ", 0) == 0) why = why.substr(file.string().size() + 2);
      h.status = "undecodable: " + why;
      png.clear();
    }
  }
  return row_of(h, id, file.string(), !o.png_out.empty(), png);
}

// Rows already made by an interrupted run: OUT.partial, one JSON line per file with the
// file's stamp then (a file that changed since is read again; a torn last line is ignored).
std::unordered_map<std::string, std::pair<FileStamp, std::vector<std::string>>> read_partial(const std::string& path,
                                                                                             size_t columns) {
  std::unordered_map<std::string, std::pair<FileStamp, std::vector<std::string>>> done;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      const FileStamp s{true, j.at("size"), j.at("mtime")};
      auto row = j.at("row").get<std::vector<std::string>>();
      if (row.size() == columns) done[j.at("path").get<std::string>()] = {s, std::move(row)};
    } catch (const nlohmann::json::exception&) {
      // torn line of a killed run: that file is read again
    }
  }
  return done;
}

// Several files with one SOPInstanceUID (the same image exported twice): the first keeps
// the id, the others are listed as duplicates with a suffixed id, so ids stay unique.
void mark_duplicates(std::vector<std::vector<std::string>>& rows, int c_status) {
  std::unordered_map<std::string, size_t> first;
  std::unordered_map<std::string, int> copies;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string id = rows[i][0];
    auto [it, inserted] = first.emplace(id, i);
    if (inserted) continue;
    const int k = ++copies[id];
    rows[i][0] = id + "#duplicate" + std::to_string(k);
    if (rows[i][c_status] == "ok") rows[i][c_status] = "duplicate: same SOPInstanceUID as " + rows[it->second][2];
  }
}

}  // namespace

std::vector<std::string> image_index_columns(bool with_png) {
  std::vector<std::string> c = {"image_id", "patient_id", "path"};
  if (with_png) c.push_back("dicom_path");
  for (const char* name : {"study_date", "accession", "modality", "body_part", "view_position", "sex", "age",
                           "manufacturer", "model", "rows", "columns", "pixel_spacing", "photometric", "bits_stored",
                           "status", "warnings"})
    c.push_back(name);
  return c;
}

ImageIndexSummary build_image_index(const ImageIndexOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (!image_io_available())
    throw InputError(o.dicom_dir + ": this osteofm was built without DICOM (OSTEOFM_WITH_IMAGE_IO=OFF); index on a full build");
  const bool with_png = !o.png_out.empty();
  const std::vector<std::string> columns = image_index_columns(with_png);
  const std::string partial = o.out + ".partial";
  const fs::path root = fs::absolute(o.dicom_dir).lexically_normal();
  std::set<fs::path> skip = {fs::absolute(o.out).lexically_normal(), fs::absolute(partial).lexically_normal()};
  if (with_png) {
    fs::create_directories(o.png_out);
    skip.insert(fs::absolute(o.png_out).lexically_normal());
  }
  const std::vector<fs::path> files = files_under(root, skip);

  auto done = read_partial(partial, columns.size());
  ImageIndexSummary summary;
  summary.files = files.size();
  std::vector<std::vector<std::string>> rows(files.size());
  std::vector<FileStamp> stamps(files.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < files.size(); ++i) {
    stamps[i] = file_stamp(files[i].string());
    const auto it = done.find(files[i].string());
    if (it != done.end() && it->second.first == stamps[i] &&
        (!with_png || it->second.second[2].empty() || fs::exists(it->second.second[2]))) {
      rows[i] = it->second.second;
      summary.reused++;
    } else {
      todo.push_back(i);
    }
  }
  // Rows are appended to OUT.partial chunk by chunk: a killed run loses one chunk at most.
  std::ofstream log(partial, std::ios::app);
  if (!log) throw InputError(partial + ": cannot be written");
  ProgressBar bar("data index", static_cast<long>(files.size()));
  const size_t chunk = 256;
  std::atomic<size_t> pngs{0};
  for (size_t from = 0; from < todo.size(); from += chunk) {
    throw_if_interrupted();  // rows so far are in OUT.partial
    const size_t n = std::min(chunk, todo.size() - from);
    parallel_for(n, o.threads, [&](size_t k, int) {
      const size_t i = todo[from + k];
      bool wrote = false;
      rows[i] = index_file(files[i], root, o, &wrote);
      if (wrote) pngs++;
    });
    for (size_t k = 0; k < n; ++k) {
      const size_t i = todo[from + k];
      log << nlohmann::json{{"path", files[i].string()}, {"size", stamps[i].size}, {"mtime", stamps[i].mtime},
                            {"row", rows[i]}}
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";
    }
    log.flush();
    bar.update(static_cast<long>(summary.reused + from + n));
  }
  summary.pngs = pngs;
  const int c_status = static_cast<int>(std::find(columns.begin(), columns.end(), "status") - columns.begin());
  mark_duplicates(rows, c_status);
  std::string text = csv_line(columns);
  for (const auto& r : rows) {
    text += csv_line(r);
    const std::string& status = r[c_status];
    summary.by_status[status.substr(0, status.find(':'))]++;
  }
  write_file_atomic(o.out, text);
  log.close();
  fs::remove(partial);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string counts;
  for (const auto& [status, n] : summary.by_status) counts += (counts.empty() ? "" : ", ") + status + " " + std::to_string(n);
  bar.finish(std::to_string(files.size()) + " files: " + counts);
  return summary;
}

}  // namespace osteofm
