// The binary as a user runs it: exit codes, one-line errors, files written.
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "io/manifest.hpp"
#include "planted.hpp"
#include "train/config.hpp"
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

TEST_CASE("cli: OSTEOFM_THREADS is --threads for an osteofm not given the flag", "[cli][image_io]") {
  const char* before = std::getenv("OSTEOFM_THREADS");
  const std::string saved = before ? before : "";
  ::setenv("OSTEOFM_THREADS", "1", 1);
  const json env = json::parse(run_osteofm("doctor --json").out);
  CHECK(env["blas"]["threads"] == 1);
  CHECK(env["image_io_threads"] == 1);
  const json flag = json::parse(run_osteofm("doctor --json --threads 2").out);  // the flag wins
  CHECK(flag["blas"]["threads"] == 2);
  ::setenv("OSTEOFM_THREADS", "many", 1);
  const CliResult bad = run_osteofm("doctor");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::StartsWith("osteofm: error: ") && Catch::Contains("OSTEOFM_THREADS"));
  if (before) ::setenv("OSTEOFM_THREADS", saved.c_str(), 1);
  else ::unsetenv("OSTEOFM_THREADS");
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

namespace {
// stdout and stderr of a shell command line.
std::string shell_output(const std::string& command) {
  std::string out;
  FILE* p = popen(("{ " + command + "; } 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  return out;
}
}  // namespace

// `osteofm` runs eval, compare, table and report without mapping LibTorch (start-up ~25 ms
// instead of ~0.7 s; bench/bench_startup.cpp) and becomes osteofm-torch for the rest. The
// dynamic loader's own log (LD_DEBUG=libs) says which libraries each process initialised.
TEST_CASE("cli: the torch-free verbs start without LibTorch, the others through osteofm-torch", "[cli]") {
  const auto loads_torch = [](const std::string& args) {
    const std::string log = shell_output(std::string("LD_DEBUG=libs '") + OSTEOFM_BIN + "' " + args);
    for (const std::string& line : split_lines(log))
      if (line.find("calling init:") != std::string::npos && line.find("libtorch_cpu") != std::string::npos) return true;
    return false;
  };
  for (const char* verb : {"eval", "compare", "table", "report"}) {
    INFO(verb);
    CHECK_FALSE(loads_torch(std::string(verb) + " --help"));
  }
  // The same log does name LibTorch when a verb needs it: the check above can fail.
  CHECK(loads_torch("synth --help"));
  CHECK(loads_torch("--version"));
  // Global options before the verb are skipped with their value.
  CHECK_FALSE(loads_torch("--threads 2 --max-pixels 1000 eval --help"));
  CliResult help = run_osteofm("--threads 2 eval --help");
  CHECK(help.code == 0);
  CHECK_THAT(help.out, Catch::Contains("--predictions"));
}

TEST_CASE("cli: osteofm without osteofm-torch beside it says so, exit 1", "[cli]") {
  TempDir dir;
  std::filesystem::copy_file(OSTEOFM_BIN, dir / "osteofm");
  std::filesystem::permissions(dir / "osteofm", std::filesystem::perms::owner_all);
  const std::string out = shell_output("'" + (dir / "osteofm") + "' synth --help; echo \"rc=$?\"");
  CHECK_THAT(out, Catch::Contains("cannot start " + (dir / "osteofm-torch")) && Catch::Contains("rc=1"));
  CHECK(count_lines(out) == 2);  // the one error line, then rc
}

// README's configuration reference is `osteofm config --markdown`, key for key.
TEST_CASE("cli: osteofm config lists every key, and README's reference is its output", "[cli]") {
  const CliResult text = run_osteofm("config");
  REQUIRE(text.code == 0);
  CHECK_THAT(text.out, Catch::Contains("train.epochs") && Catch::Contains("default 10") && Catch::Contains("[1, 100000]"));
  const CliResult md = run_osteofm("config --markdown");
  REQUIRE(md.code == 0);
  const std::string readme = read_text(source("README.md"));
  const std::string begin = "<!-- osteofm config --markdown: begin -->\n", end = "<!-- osteofm config --markdown: end -->";
  const size_t a = readme.find(begin), b = readme.find(end);
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  CHECK(readme.substr(a + begin.size(), b - a - begin.size()) == md.out);
  // Every key the defaults hold is listed (the table is where they come from).
  const nlohmann::json defaults = default_train_config();
  for (const auto& [section, keys] : defaults.items()) {
    if (!keys.is_object() || section == "strategy") continue;
    for (const auto& [name, value] : keys.items()) CHECK_THAT(md.out, Catch::Contains("`" + section + "." + name + "`"));
  }
}
