// Cohort linkage (data link) against ../shared/fixtures/cohort, its flow diagram, and
// Table 1 (data describe) against pandas.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/csv.hpp"
#include "core/sha256.hpp"
#include "core/error.hpp"
#include "data/cohort_link.hpp"
#include "data/image_index.hpp"
#include "eval/bootstrap.hpp"
#include "io/image.hpp"
#include "report/flow_diagram.hpp"
#include "report/table_one.hpp"
#include "support.hpp"

using json = nlohmann::json;
using namespace osteofm::test;

namespace {

std::vector<fs::path> cohort_cases() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(shared("fixtures/cohort")))
    if (e.is_directory()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::map<std::string, std::string>> rows_by_id(const std::string& text, const std::string& source) {
  const osteofm::CsvTable t = osteofm::parse_csv(text, source);
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& r : t.records) {
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < t.header.size(); ++c) row[t.header[c]] = c < r.fields.size() ? r.fields[c] : "";
    out[row.at("image_id")] = row;
  }
  return out;
}

osteofm::CohortLinkOptions options_of(const json& args) {
  osteofm::CohortLinkOptions o;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string flag = args[i], value = args[i + 1];
    if (flag == "--window-days") o.window_days = std::stoi(value);
    else if (flag == "--reference") o.reference = value;
    else if (flag == "--direction") o.direction = osteofm::parse_dxa_direction(value);
    else if (flag == "--per-patient") o.per_patient = osteofm::parse_per_patient(value);
    else if (flag == "--sex") o.sex = value;
    else if (flag == "--views") {
      o.views.clear();
      std::stringstream ss(value);
      for (std::string v; std::getline(ss, v, ',');) o.views.push_back(v);
    } else FAIL("unknown fixture flag " << flag);
  }
  return o;
}

// Rows, reasons and counts of one case equal the fixture's: ids, dates, days and T-scores
// exactly (T-scores as numbers), every expected column present.
// `out_dir`: where the cohort was written (its relative paths resolve there).
void check_case(const fs::path& dir, const fs::path& out_dir, const std::string& cohort_csv,
                const std::string& excluded_csv, const json& flow) {
  const json expected = json::parse(read_text((dir / "expected_flow.json").string()));
  CHECK(flow == expected.at("flow"));
  const auto want = rows_by_id(read_text((dir / "expected_cohort.csv").string()), "expected_cohort.csv");
  const auto got = rows_by_id(cohort_csv, "cohort");
  REQUIRE(got.size() == want.size());
  for (const auto& [id, row] : want) {
    INFO("image " << id);
    REQUIRE(got.count(id) == 1);
    for (const auto& [column, value] : row) {
      INFO("column " << column);
      REQUIRE(got.at(id).count(column) == 1);
      if (column == "t_score") CHECK(std::stod(got.at(id).at(column)) == std::stod(value));
      else if (column == "path")  // the same file, seen from the cohort's folder
        CHECK((out_dir / got.at(id).at(column)).lexically_normal() == (dir / value).lexically_normal());
      else CHECK(got.at(id).at(column) == value);
    }
  }
  std::map<std::string, std::string> want_excluded, got_excluded;
  for (const auto& [id, row] : rows_by_id(read_text((dir / "expected_excluded.csv").string()), "expected_excluded"))
    want_excluded[id] = row.at("reason");
  for (const auto& [id, row] : rows_by_id(excluded_csv, "excluded")) got_excluded[id] = row.at("reason");
  CHECK(got_excluded == want_excluded);
}

}  // namespace

TEST_CASE("cohort fixtures: the linkage's rows, reasons and counts equal the golden cases", "[cohort]") {
  const auto cases = cohort_cases();
  REQUIRE(cases.size() >= 2);
  for (const auto& dir : cases) {
    INFO("case " << dir.filename().string());
    const json expected = json::parse(read_text((dir / "expected_flow.json").string()));
    const osteofm::CohortLink link = osteofm::link_cohort((dir / "images.csv").string(), (dir / "dxa.csv").string(),
                                                          options_of(expected.at("args")));
    TempDir out;
    osteofm::write_cohort(link, dir.string(), out / "cohort.csv");
    check_case(dir, out.path, read_text(out / "cohort.csv"), read_text(out / "cohort.excluded.csv"),
               json::parse(read_text(out / "cohort.flow.json")).at("flow"));
  }
}

TEST_CASE("cohort fixtures: data link from the CLI, then data split's flow diagram by split", "[cohort][cli]") {
  for (const auto& dir : cohort_cases()) {
    INFO("case " << dir.filename().string());
    const json expected = json::parse(read_text((dir / "expected_flow.json").string()));
    std::string args;
    for (const auto& a : expected.at("args")) args += " '" + a.get<std::string>() + "'";
    TempDir out;
    // Run from a copy so that relative paths come out as the index wrote them.
    fs::copy_file(dir / "images.csv", out / "images.csv");
    CliResult r = run_osteofm("data link --images '" + (out / "images.csv") + "' --dxa '" + (dir / "dxa.csv").string() +
                              "'" + args + " --out '" + (out / "cohort.csv") + "'");
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("cohort.flow.svg"));
    const json flow = json::parse(read_text(out / "cohort.flow.json"));
    check_case(dir, dir, read_text(out / "cohort.csv"), read_text(out / "cohort.excluded.csv"), flow.at("flow"));
    // The diagram states every count.
    const std::string svg = read_text(out / "cohort.flow.svg");
    CHECK_THAT(svg, Catch::Contains("n = " + std::to_string(expected["flow"]["n_in"].get<int>())));
    CHECK_THAT(svg, Catch::Contains("n = " + std::to_string(expected["flow"]["n_out"].get<int>()) + " images"));
    CHECK(fs::exists(out / "cohort.flow.png") == (OSTEOFM_WITH_IMAGE_IO != 0));
    // data split: the same diagram with the final counts by split, which add up.
    r = run_osteofm("data split '" + (out / "cohort.csv") + "' --out '" + (out / "split.csv") + "'");
    INFO(r.err);
    REQUIRE(r.code == 0);
    const json by_split = json::parse(read_text(out / "split.flow.json"))["flow"]["classes_out_by_split"];
    for (const auto& [cls, n] : expected["flow"]["classes_out"].items()) {
      int sum = 0;
      for (const char* s : {"train", "val", "test"}) sum += by_split[s][cls].get<int>();
      CHECK(sum == n.get<int>());
    }
    CHECK_THAT(read_text(out / "split.flow.svg"), Catch::Contains("train: "));
  }
}

TEST_CASE("cohort linkage: ties go to the earlier DXA exam and per-patient selection breaks ties as stated", "[cohort]") {
  const std::string images =
      "image_id,patient_id,path,study_date\n"
      "a2,P1,a2.dcm,2020-01-11\n"  // DXA 2020-01-01 and 2020-01-21 are both 10 days away: the earlier wins
      "a1,P1,a1.dcm,2020-01-11\n"  // same date as a2: --per-patient first keeps the lower id, a1
      "b1,P2,b1.dcm,2020-02-28\n"
      "b2,P2,b2.dcm,2020-02-20\n";  // closer to P2's DXA (2020-02-25) than b1, later than nothing
  const std::string dxa =
      "patient_id,dxa_date,t_lumbar_spine,t_femoral_neck,t_total_hip\n"
      "P1,2020-01-21,-3.0,,\n"
      "P1,2020-01-01,-1.0,-2.5,\n"
      "P2,2020-02-25,,-1.2,0.4\n";
  osteofm::CohortLinkOptions o;
  o.window_days = 30;
  osteofm::CohortLink all = osteofm::link_cohort_text(images, "images.csv", dxa, "dxa.csv", o);
  REQUIRE(all.rows.size() == 4);
  CHECK(all.rows[0][3] == "-2.5");  // the lowest site of the earlier exam
  CHECK(all.rows[0][5] == "2020-01-01");
  CHECK(all.rows[0][6] == "-10");
  CHECK(all.flow.classes_out == std::array<size_t, 3>{0, 2, 2});
  o.per_patient = osteofm::PerPatient::kFirst;
  osteofm::CohortLink first = osteofm::link_cohort_text(images, "images.csv", dxa, "dxa.csv", o);
  REQUIRE(first.rows.size() == 2);
  CHECK(first.rows[0][0] == "a1");
  CHECK(first.rows[1][0] == "b2");
  CHECK(first.flow.excluded[8] == 2);
  o.per_patient = osteofm::PerPatient::kClosest;
  osteofm::CohortLink closest = osteofm::link_cohort_text(images, "images.csv", dxa, "dxa.csv", o);
  REQUIRE(closest.rows.size() == 2);
  CHECK(closest.rows[0][0] == "a1");  // a1 and a2 tie on distance and date: the lower id
  CHECK(closest.rows[1][0] == "b1");  // 3 days from its DXA against b2's 5
  // --reference total_hip: P1 has none at any exam.
  o.per_patient = osteofm::PerPatient::kAll;
  o.reference = "total_hip";
  osteofm::CohortLink hip = osteofm::link_cohort_text(images, "images.csv", dxa, "dxa.csv", o);
  CHECK(hip.flow.excluded[6] == 2);
  REQUIRE(hip.rows.size() == 2);
  CHECK(hip.rows[0][3] == "0.4");
  // --direction after: P2's DXA is after b2 (kept) and before b1 (outside).
  o.reference = "lowest";
  o.direction = osteofm::DxaDirection::kAfter;
  osteofm::CohortLink after = osteofm::link_cohort_text(images, "images.csv", dxa, "dxa.csv", o);
  CHECK(after.flow.excluded[7] == 1);
  CHECK(after.excluded.at(0).image_id == "b1");
}

TEST_CASE("cohort linkage: malformed exports are one-line errors naming the file and line", "[cohort]") {
  const std::string images = "image_id,patient_id,path,study_date\nx1,P1,x1.dcm,2020-01-11\n";
  const std::string dxa = "patient_id,dxa_date,t_lumbar_spine,t_femoral_neck,t_total_hip\nP1,2020-01-21,-3.0,,\n";
  osteofm::CohortLinkOptions o;
  o.window_days = 30;
  auto error_of = [&](const std::string& im, const std::string& dx, const osteofm::CohortLinkOptions& opt) {
    try {
      osteofm::link_cohort_text(im, "images.csv", dx, "dxa.csv", opt);
    } catch (const osteofm::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of(images, "patient_id,dxa_date,t_lumbar_spine\nP1,21/01/2020,-3\n", o),
             Catch::Contains("dxa.csv:2: dxa_date '21/01/2020' is not a date"));
  CHECK_THAT(error_of(images, "patient_id,dxa_date,t_lumbar_spine\nP1,2020-01-21,low\n", o),
             Catch::Contains("dxa.csv:2: t_lumbar_spine 'low' is not a number"));
  CHECK_THAT(error_of(images + "x1,P2,x2.dcm,2020-01-12\n", dxa, o), Catch::Contains("images.csv:3: duplicate image_id 'x1'"));
  CHECK_THAT(error_of("image_id,patient_id,path\nx1,P1,x1.dcm\n", dxa, o),
             Catch::Contains("images.csv: the image index has no 'study_date' column"));
  CHECK_THAT(error_of("image_id,patient_id,path,study_date\nx1,P1,x1.dcm,2020-02-30\n", dxa, o),
             Catch::Contains("images.csv:2: image x1: study_date '2020-02-30' is not a date"));
  CHECK_THAT(error_of(images, "patient_id,dxa_date\nP1,2020-01-21\n", o), Catch::Contains("none of the T-score columns"));
  osteofm::CohortLinkOptions bad = o;
  bad.window_days = 0;
  CHECK_THAT(error_of(images, dxa, bad), Catch::Contains("--window-days 0"));
  bad = o;
  bad.reference = "spine";
  CHECK_THAT(error_of(images, dxa, bad), Catch::Contains("--reference 'spine'"));
  CHECK_THROWS_AS(osteofm::parse_dxa_direction("around"), osteofm::InputError);
  // An unreadable image needs no date: rule 1 excludes it before its date is read.
  const auto link = osteofm::link_cohort_text("image_id,patient_id,path,study_date,status\nx1,,x1.dcm,,not_dicom\n",
                                              "images.csv", dxa, "dxa.csv", o);
  CHECK(link.flow.excluded[0] == 1);
}

TEST_CASE("cohort linkage: a bad DXA row from the CLI exits 2 and writes no cohort", "[cohort][cli]") {
  TempDir dir;
  write_text(dir / "images.csv", "image_id,patient_id,path,study_date\nx1,P1,x1.dcm,2020-01-11\n");
  write_text(dir / "dxa.csv", "patient_id,dxa_date,t_femoral_neck\nP1,2020-01-21,-1.0\nP1,2020-13-01,-2\n");
  const CliResult r = run_osteofm("data link --images '" + (dir / "images.csv") + "' --dxa '" + (dir / "dxa.csv") +
                                  "' --window-days 90 --out '" + (dir / "cohort.csv") + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("dxa.csv:3: dxa_date '2020-13-01' is not a date"));
  CHECK(count_lines(r.err) == 1);
  CHECK_FALSE(fs::exists(dir / "cohort.csv"));
}

TEST_CASE("Table 1: data describe equals pandas on a fixture cohort", "[cohort][describe][cli]") {
  const json golden = json::parse(read_text(source("tests/data/table_one_golden.json")));
  TempDir dir;
  const CliResult r = run_osteofm("data describe '" + shared(golden.at("source").get<std::string>()) + "' --out '" +
                                  (dir / "t1") + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json got = json::parse(read_text(dir / "t1.json"));
  int compared = 0;
  for (const auto& [group, want] : golden.at("groups").items()) {
    INFO("group " << group);
    const json& g = got.at("groups").at(group);
    CHECK(g.at("n") == want.at("n"));
    for (const auto& [column, stats] : want.items()) {
      if (column == "n") continue;
      INFO("column " << column);
      for (const auto& [stat, value] : stats.items()) {
        INFO("statistic " << stat);
        if (value.is_object()) {
          for (const auto& [level, v] : value.items()) {
            CHECK(std::fabs(g.at(column).at(stat).at(level).get<double>() - v.get<double>()) <= 1e-9);
            ++compared;
          }
        } else {
          CHECK(std::fabs(g.at(column).at(stat).get<double>() - value.get<double>()) <= 1e-9 * std::max(1.0, std::fabs(value.get<double>())));
          ++compared;
        }
      }
    }
  }
  CHECK(compared > 150);
  CHECK_THAT(read_text(dir / "t1.md"), Catch::Contains("| Characteristic | All (n = 169) | normal (n = 48) |"));
  const std::string tex = read_text(dir / "t1.tex");
  CHECK_THAT(tex, Catch::Contains("\\caption{") && Catch::Contains("t\\_score, mean $\\pm$ SD"));
  // Plain ASCII, as the study's table.tex: pdflatex takes it as it is (± and – were raw UTF-8).
  CHECK(std::count_if(tex.begin(), tex.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }) == 0);
  CHECK_THAT(read_text(dir / "t1.csv"), Catch::Contains("age,,mean,"));
}

TEST_CASE("Table 1: quantiles interpolate linearly and bad columns are named", "[describe]") {
  CHECK(osteofm::quantile_type7({1, 2, 3, 4}, 0.25) == Approx(1.75));  // what Table 1 uses
  CHECK(osteofm::quantile_type7({5}, 0.75) == 5);
  const std::string csv = "image_id,patient_id,path,t_score,site\na,p,a.png,-3,x\nb,q,b.png,-0.5,y\n";
  osteofm::TableOneOptions o;
  o.by = "hospital";
  CHECK_THROWS_WITH(osteofm::describe_table(csv, "m.csv", o), Catch::Contains("m.csv: --by hospital: no such column"));
  o.by = "label";
  o.columns = {"weight"};
  CHECK_THROWS_WITH(osteofm::describe_table(csv, "m.csv", o), Catch::Contains("no column 'weight'"));
  o.columns.clear();
  const osteofm::TableOne t = osteofm::describe_table(csv, "m.csv", o);
  REQUIRE(t.groups == std::vector<std::string>{"all", "normal", "osteoporosis"});
  REQUIRE(t.columns.size() == 2);  // t_score and site; ids and paths are skipped
  CHECK(std::isnan(t.columns[0].numeric_by_group[1].sd));  // one value: no SD
}

namespace {
std::map<std::string, std::map<std::string, std::string>> index_rows_by_rel_path(const std::string& csv_path,
                                                                                const fs::path& base) {
  const osteofm::CsvTable t = osteofm::parse_csv(read_text(csv_path), csv_path);
  std::map<std::string, std::map<std::string, std::string>> out;
  const int c_source = t.column("dicom_path") >= 0 ? t.column("dicom_path") : t.column("path");
  for (const auto& r : t.records) {
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < t.header.size(); ++c) row[t.header[c]] = r.fields[c];
    out[fs::path(r.fields[c_source]).lexically_relative(base).string()] = row;
  }
  return out;
}
}  // namespace

TEST_CASE("data index: every header field of the real DICOMs equals pydicom's", "[cohort][dicom]") {
  const fs::path base = fs::absolute(shared("data/public-cxr/dicom")).lexically_normal();
  TempDir dir;
  osteofm::ImageIndexOptions o;
  o.dicom_dir = base.string();
  o.out = dir / "images.csv";
  if (!OSTEOFM_WITH_IMAGE_IO) {
    CHECK_THROWS_WITH(osteofm::build_image_index(o), Catch::Contains("built without DICOM"));
    return;
  }
  const osteofm::ImageIndexSummary s = osteofm::build_image_index(o);
  const json golden = json::parse(read_text(source("tests/data/dicom_index_golden.json")));
  CHECK(s.files == golden.size());
  CHECK_FALSE(fs::exists(dir / "images.csv.partial"));  // a finished index leaves no partial
  const auto rows = index_rows_by_rel_path(dir / "images.csv", base);
  REQUIRE(rows.size() == golden.size());
  int compared = 0;
  for (const auto& [rel, want] : golden.items()) {
    INFO("file " << rel);
    REQUIRE(rows.count(rel) == 1);
    const auto& row = rows.at(rel);
    const std::string status = row.at("status");
    // The second file with one SOPInstanceUID (Fake_MONOHR1.dcm is a one-byte edit of
    // another) is a readable file listed as a duplicate.
    const bool ok = status == "ok" || status.rfind("duplicate:", 0) == 0;
    CHECK(ok == want.at("ok").get<bool>());
    if (!want.contains("image_id")) continue;  // pydicom could not read it either
    for (const auto& [field, value] : want.items()) {
      if (field == "ok" || field == "why") continue;
      INFO("field " << field);
      std::string got = row.at(field);
      if (field == "image_id") got = got.substr(0, got.find("#duplicate"));
      CHECK(got == value.get<std::string>());
      ++compared;
    }
  }
  CHECK(compared >= 12 * 16);
  CHECK(rows.at("siim-acr-via-torchxrayvision/Fake_MONOHR1.dcm").at("image_id") ==
        rows.at("siim-acr-via-torchxrayvision/1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm").at("image_id") +
            "#duplicate1");
  CHECK_THAT(rows.at("nema-wg04/RG2_JPLL.dcm").at("warnings"), Catch::Contains("not_chest"));
  CHECK_THAT(rows.at("pydicom/CT_small.dcm").at("warnings"), Catch::Contains("not_cr_dx"));
  CHECK(rows.at("malformed/MR_truncated.dcm").at("status").rfind("unreadable:", 0) == 0);
}

TEST_CASE("data index: other files are rows, an interrupted run continues, PNGs for the cluster, then data link",
          "[cohort][dicom][cli]") {
  if (!OSTEOFM_WITH_IMAGE_IO) return;  // the case above checks the refusal
  TempDir dir;
  const fs::path tree = dir / "export";
  fs::create_directories(tree / "study1" / "series1");
  const std::string j2k = shared("data/public-cxr/dicom/nema-wg04/RG1_J2KI.dcm");  // 9RG1, F, CR CHEST PA, 2004-08-26
  fs::copy_file(j2k, tree / "study1" / "series1" / "IM0001");  // PACS exports often drop the extension
  fs::copy_file(shared("data/public-cxr/dicom/nema-wg04/RG2_RLE.dcm"), tree / "study1" / "IM0002");
  write_text((tree / "README.txt").string(), "exported by the PACS\n");
  write_text((tree / "study1" / "empty.dcm").string(), "");
  const std::string out = dir / "images.csv";
  // A partial index of an earlier, killed run: a row for IM0002 with this very stamp is
  // kept as it is (marked here to see it), one for a file that changed since is not, and
  // a torn last line is ignored.
  const fs::path im2 = fs::absolute(tree / "study1" / "IM0002").lexically_normal();
  const auto mtime = static_cast<long long>(fs::last_write_time(im2).time_since_epoch().count());
  std::vector<std::string> kept_row = {"kept-id", "P-KEPT", im2.string()};
  for (int k = 0; k < 14; ++k) kept_row.push_back("");
  kept_row.push_back("ok");
  kept_row.push_back("");
  std::vector<std::string> stale_row = kept_row;
  stale_row[0] = "stale-id";
  const fs::path readme = fs::absolute(tree / "README.txt").lexically_normal();
  stale_row[2] = readme.string();
  write_text(out + ".partial",
             json{{"path", im2.string()}, {"size", fs::file_size(im2)}, {"mtime", mtime}, {"row", kept_row}}.dump() + "\n" +
                 json{{"path", readme.string()}, {"size", 1}, {"mtime", 0}, {"row", stale_row}}.dump() + "\n" +
                 "{\"path\": \"/torn");
  CliResult r = run_osteofm("data index '" + tree.string() + "' --out '" + out + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("4 files") && Catch::Contains("1 kept from an interrupted run"));
  auto rows = index_rows_by_rel_path(out, fs::absolute(tree).lexically_normal());
  REQUIRE(rows.size() == 4);
  CHECK(rows.at("study1/IM0002").at("image_id") == "kept-id");
  CHECK(rows.at("README.txt").at("status") == "not_dicom");
  CHECK(rows.at("README.txt").at("image_id") == "README.txt");
  CHECK(rows.at("study1/empty.dcm").at("status").rfind("unreadable:", 0) == 0);
  CHECK(rows.at("study1/series1/IM0001").at("status") == "ok");
  CHECK(rows.at("study1/series1/IM0001").at("patient_id") == "9RG1");
  CHECK_FALSE(fs::exists(out + ".partial"));

  // --png-out: `path` is the PNG, as osteofm decodes the DICOM; dicom_path the source.
  const std::string out_png = dir / "images_png.csv";
  r = run_osteofm("data index '" + tree.string() + "' --out '" + out_png + "' --png-out '" + (dir / "png") + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  rows = index_rows_by_rel_path(out_png, fs::absolute(tree).lexically_normal());
  const auto& im1 = rows.at("study1/series1/IM0001");
  REQUIRE(fs::path(im1.at("path")).extension() == ".png");
  const osteofm::GrayImage png = osteofm::read_image(im1.at("path"));
  const osteofm::GrayImage dcm = osteofm::read_dicom(j2k);
  REQUIRE(png.width == dcm.width);
  REQUIRE(png.height == dcm.height);
  double worst = 0;
  for (size_t i = 0; i < png.pixels.size(); i += 97) worst = std::max(worst, double(std::fabs(png.pixels[i] - dcm.pixels[i])));
  CHECK(worst <= 1.0 / 65535 + 1e-7);  // 16-bit quantisation only
  CHECK(rows.at("README.txt").at("path").empty());  // nothing to train on

  // The index feeds data link as it is.
  write_text(dir / "dxa.csv", "patient_id,dxa_date,t_lumbar_spine,t_femoral_neck,t_total_hip\n9RG1,2004-10-01,-2.7,-2.1,\n");
  r = run_osteofm("data link --images '" + out_png + "' --dxa '" + (dir / "dxa.csv") +
                  "' --window-days 90 --sex F --out '" + (dir / "cohort.csv") + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json flow = json::parse(read_text(dir / "cohort.flow.json"))["flow"];
  CHECK(flow["n_out"] == 1);
  CHECK(flow["excluded_unreadable"] == 2);
  CHECK(flow["classes_out"]["osteoporosis"] == 1);
  r = run_osteofm("data check '" + (dir / "cohort.csv") + "' --decode");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
}

TEST_CASE("browser check: a page that loads from the network or logs to the console is caught", "[report][cli]") {
  // The control for the demo report's check: the same helper sees both faults.
  TempDir dir;
  write_text(dir / "bad.html",
             "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>bad</title></head><body>"
             "<img src=\"http://example.invalid/x.png\"><script>console.error(\"boom\")</script></body></html>");
  const BrowserRender r = render_in_chromium(dir / "bad.html", dir / "bad.png", 400, 300);
  INFO(r.log);
  REQUIRE(r.code == 0);
  REQUIRE(r.console.size() == 1);
  CHECK_THAT(r.console[0], Catch::Contains("boom"));
  REQUIRE(r.requests.size() == 1);
  CHECK(r.requests[0] == "http://example.invalid/x.png");
}

TEST_CASE("report: a folder that is no study is a one-line error", "[report][cli]") {
  TempDir dir;
  const CliResult r = run_osteofm("report '" + dir.path.string() + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("not a study folder of osteofm reproduce or demo"));
  CHECK(count_lines(r.err) == 1);
  CHECK_FALSE(fs::exists(dir / "report.html"));
}

TEST_CASE("sha256: the NIST vectors, and a file as sha256sum hashes it", "[provenance]") {
  CHECK(osteofm::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(osteofm::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(osteofm::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // 1,000,000 x 'a' through many update() calls of odd sizes.
  osteofm::Sha256 h;
  const std::string chunk(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    const size_t n = std::min(left, chunk.size());
    h.update(chunk.data(), n);
    left -= n;
  }
  CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const std::string file = shared("data/public-cxr/dicom/nema-wg04/RG2_RLE.dcm");
  TempDir dir;
  const std::string out = dir / "sum.txt";
  REQUIRE(std::system(("sha256sum '" + file + "' > '" + out + "'").c_str()) == 0);
  CHECK(osteofm::sha256_file(file) == read_text(out).substr(0, 64));
}
