// The binary as a user runs it: exit codes, one-line errors, files written.
#include <nlohmann/json.hpp>

#include "io/manifest.hpp"
#include "planted.hpp"
#include "data/cache_index.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

TEST_CASE("cli: --version and doctor", "[cli][image_io]") {
  CliResult v = run_osteofm("--version");
  CHECK(v.code == 0);
  CHECK_THAT(v.out, Catch::StartsWith("osteofm "));
  CliResult d = run_osteofm("doctor --json --threads 2");
  REQUIRE(d.code == 0);
  json j = json::parse(d.out);
  CHECK(j["blas"]["kind"] == "openblas");  // setup.sh installs it; the reference BLAS is 40x slower
  // --threads goes to OpenBLAS's pool, LibTorch's intra-op pool keeps one thread (the fastest
  // split, bench/bench_threads.cpp): two pools on the same cores fight.
  CHECK(j["blas"]["threads"] == 2);
  CHECK(j["threads"] == 1);
  CHECK(j["blas"]["threading"] == "pthreads");
  CHECK(j["image_io_threads"] == 2);  // OpenCV keeps the count asked for (was LibTorch's: 1)
  const json one = json::parse(run_osteofm("doctor --json --threads 1").out);
  CHECK(one["blas"]["threads"] == 1);
  CHECK(one["threads"] == 1);
  CHECK_FALSE(j["dcmtk"].get<std::string>().empty());
}

TEST_CASE("cli: data check reports planted faults by row and exits 2", "[cli]") {
  TempDir dir;
  const std::string manifest = planted_manifest(dir);
  CliResult r = run_osteofm("data check '" + manifest + "' --json '" + (dir / "report.json") + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.out, Catch::Contains("row 3: image file") && Catch::Contains("does not exist"));
  CHECK_THAT(r.out, Catch::Contains("row 4: patient 'P1' is in several splits"));
  CHECK_THAT(r.out, Catch::Contains("row 5: image_id 'img2' already used in row 2"));
  CHECK_THAT(r.out, Catch::Contains("row 6: t_score 'abc' is not a number"));
  CHECK(count_lines(r.err) == 1);
  json rep = json::parse(read_text(dir / "report.json"));
  CHECK(rep["usable"] == false);
  CHECK(rep["errors"] == 4);
  CHECK(rep["splits"]["train"]["patients"] == 2);
}

TEST_CASE("cli: data split makes a leak-free manifest that data check accepts", "[cli]") {
  TempDir dir;
  const std::string nih = shared("data/public-cxr/hannover-covid19-repository/png");
  std::string text = "image_id,patient_id,path,t_score,split\n";
  const char* files[] = {"e87352fc", "006f3a8a", "fff13f3a", "c4a0e11a", "23823ebc",
                         "9a9b2393", "6b5af975", "1479fa94", "26b79d0d", "0957ce54"};
  for (int i = 0; i < 10; ++i)
    text += std::string(files[i]) + ",P" + std::to_string(i / 2) + "," + nih + "/" + files[i] + ".png," +
            std::to_string(-3.0 + 0.35 * i) + ",train\n";
  write_text(dir / "in/m.csv", text);
  CliResult r = run_osteofm("data split '" + (dir / "in/m.csv") + "' --out '" + (dir / "out/split.csv") + "' --seed 3");
  REQUIRE(r.code == 0);
  CliResult c = run_osteofm("data check '" + (dir / "out/split.csv") + "'");
  CHECK(c.code == 0);
  Manifest m = load_manifest(dir / "out/split.csv");
  CHECK(m.rows.size() == 10);
  CHECK(m.usable());
  // Byte-identical on a second run with the same seed.
  CliResult r2 = run_osteofm("data split '" + (dir / "in/m.csv") + "' --out '" + (dir / "out/split2.csv") + "' --seed 3");
  CHECK(read_text(dir / "out/split.csv") == read_text(dir / "out/split2.csv"));
}

TEST_CASE("cli: weights inspect lists a real fixture, bad input is exit 2 with one line", "[cli]") {
  CliResult r = run_osteofm("weights inspect --json '" + shared("fixtures/parity/dinov2_hub_noreg_A.safetensors") + "'");
  REQUIRE(r.code == 0);
  json j = json::parse(r.out);
  CHECK(j["parameters"].get<int64_t>() > 100000);
  bool has_cls = false;
  for (const auto& t : j["tensors"])
    if (t["name"] == "cls_token") has_cls = (t["shape"] == json::array({1, 1, 64}));
  CHECK(has_cls);

  TempDir dir;
  const std::string header = "{not json at all}";
  write_text(dir / "bad.safetensors", std::string(1, char(header.size())) + std::string(7, '\0') + header);
  CliResult bad = run_osteofm("weights inspect '" + (dir / "bad.safetensors") + "'");
  CHECK(bad.code == 2);
  CHECK(count_lines(bad.err) == 1);
  CHECK_THAT(bad.err, Catch::Contains("bad.safetensors: safetensors header is not valid JSON"));

  CliResult missing = run_osteofm("data check '" + (dir / "nope.csv") + "'");
  CHECK(missing.code == 2);
  CHECK(count_lines(missing.err) == 1);
  CHECK_THAT(missing.err, Catch::Contains("nope.csv: no such file"));

  CliResult usage = run_osteofm("data check --no-such-flag x.csv");
  CHECK(usage.code == 2);
  CHECK(count_lines(usage.err) == 1);
}
