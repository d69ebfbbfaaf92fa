#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "io/safetensors.hpp"
#include "io/safetensors_torch.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

TEST_CASE("safetensors: every parity fixture reads, values match the reference's own max|E|", "[safetensors]") {
  const fs::path dir = shared("fixtures/parity");
  int files = 0, checked = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    ++files;
    auto f = SafetensorsFile::open(entry.path().string());
    REQUIRE(!f->tensors().empty());
    for (const auto& e : f->tensors()) {
      torch::Tensor t = tensor_from(f, e);
      CHECK(t.numel() == e.numel());
      if (t.is_floating_point()) CHECK(torch::isfinite(t).all().item<bool>());
    }
    // The fixture JSON records max|E| of each expected output, computed by the reference.
    const std::string name = entry.path().filename().string();
    const std::string suffix = ".expected.safetensors";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const std::string stem = name.substr(0, name.size() - suffix.size());
      json spec = json::parse(read_text((dir / (stem + ".json")).string()));
      for (auto& [key, tol] : spec["tolerance"]["per_output"].items()) {
        const TensorEntry* e = f->find(key);
        INFO(name << " " << key);
        REQUIRE(e != nullptr);
        const double scale = tensor_from(f, *e).abs().max().item<double>();
        CHECK(scale == Approx(tol["value_scale"].get<double>()).epsilon(1e-6));
        ++checked;
      }
    }
  }
  CHECK(files >= 14);
  CHECK(checked >= 20);
  auto inputs = load_safetensors(shared("fixtures/parity/inputs.safetensors"));
  CHECK(inputs.at("pixel_values_224_imagenet").sizes() == torch::IntArrayRef({2, 3, 224, 224}));
  CHECK(inputs.at("pixel_values_518_imagenet").sizes() == torch::IntArrayRef({1, 3, 518, 518}));
}

TEST_CASE("safetensors: round trip of every dtype, zero-copy when aligned", "[safetensors]") {
  TempDir dir;
  std::map<std::string, torch::Tensor> in;
  in["f32"] = torch::randn({3, 5});
  in["f16"] = torch::randn({7}).to(torch::kFloat16);
  in["bf16"] = torch::randn({2, 2, 3}).to(torch::kBFloat16);
  in["f64"] = torch::randn({4}, torch::kFloat64);
  in["i64"] = torch::arange(-5, 5, torch::kInt64);
  in["u8"] = torch::arange(0, 250, torch::kUInt8);
  in["bool"] = torch::tensor({true, false, true});
  in["scalar"] = torch::tensor(3.5f).reshape({});
  in["empty"] = torch::zeros({0, 4});
  in["strided"] = torch::randn({6, 4}).t();  // non-contiguous input
  const std::string path = dir / "rt.safetensors";
  save_safetensors(path, in, {{"format", "pt"}});
  auto f = SafetensorsFile::open(path);
  CHECK(f->header().metadata.at("format") == "pt");
  CHECK(f->header().data_start % 8 == 0);
  for (const auto& [name, t] : in) {
    INFO(name);
    torch::Tensor back = tensor_from(f, f->at(name));
    CHECK(back.scalar_type() == t.scalar_type());
    CHECK(back.sizes() == t.sizes());
    CHECK(torch::equal(back, t.contiguous()));
  }
  // Aligned float data is a view of the mapping, not a copy.
  const TensorEntry& e = f->at("f32");
  torch::Tensor view = tensor_from(f, e);
  CHECK(static_cast<void*>(view.data_ptr()) == static_cast<void*>(f->data(e)));
  // The view keeps the mapping alive after the file object is released.
  torch::Tensor kept = tensor_from(f, f->at("f64"));
  torch::Tensor expect = in["f64"].clone();
  f.reset();
  CHECK(torch::equal(kept, expect));
}

TEST_CASE("safetensors: U16 is widened to int32 losslessly", "[safetensors]") {
  TempDir dir;
  SafetensorsWriter w;
  const uint16_t v[4] = {0, 1, 40000, 65535};
  w.add("u16", DType::U16, {4}, v, sizeof v);
  w.write(dir / "u16.safetensors");
  auto t = load_safetensors(dir / "u16.safetensors").at("u16");
  CHECK(t.scalar_type() == torch::kInt32);
  CHECK(t[2].item<int>() == 40000);
  CHECK(t[3].item<int>() == 65535);
}

namespace {
// Builds a file from a raw header text and `data_bytes` zero bytes.
std::string raw_file(const std::string& header, size_t data_bytes, uint64_t declared_len = UINT64_MAX) {
  uint64_t n = declared_len == UINT64_MAX ? header.size() : declared_len;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + std::string(data_bytes, '\0');
}
std::string error_of(const std::string& bytes) {
  try {
    parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "w.safetensors");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("safetensors: corrupt headers are one-line errors naming file and tensor", "[safetensors]") {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK(error_of(raw_file(ok, 8)).empty());
  CHECK_THAT(error_of("abc"), Catch::StartsWith("w.safetensors: not a safetensors file"));
  CHECK_THAT(error_of(raw_file(ok, 8, 1ull << 40)), Catch::Contains("exceeds the 100 MB limit"));
  CHECK_THAT(error_of(raw_file(ok, 0, ok.size() + 50)), Catch::Contains("exceeds the file size"));
  CHECK_THAT(error_of(raw_file(ok, 4)), Catch::Contains("tensor 'a': data ends at byte 8"));
  CHECK_THAT(error_of(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 8)),
             Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(raw_file(R"([1,2])", 0)), Catch::Contains("does not start with '{'"));
  CHECK_THAT(error_of(raw_file(R"({"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor 'a': unsupported dtype 'F31'"));
  CHECK_THAT(error_of(raw_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor 'a': shape has a negative"));
  CHECK_THAT(error_of(raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("tensor 'a': 8 bytes for dtype F32 and 3 elements, expected 12"));
  CHECK_THAT(error_of(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
             Catch::Contains("tensor 'b' overlaps tensor 'a'"));
  CHECK_THAT(error_of(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
             Catch::Contains("4 unused bytes before tensor 'a'"));
  CHECK_THAT(error_of(raw_file(ok, 12)), Catch::Contains("4 bytes after the last tensor"));
  CHECK_THAT(error_of(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
             Catch::Contains("tensor 'a' appears twice"));
  CHECK_THAT(error_of(raw_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("overflow"));
  CHECK_THAT(error_of(raw_file(R"({"__metadata__":{"k":1}})", 0)), Catch::Contains("__metadata__ value 'k'"));
}

TEST_CASE("sniff_checkpoint: a 123-byte header (0x7B, '{') is safetensors, not an index", "[safetensors]") {
  // The header length's first byte is '{' when the header is 123 bytes long: the file then
  // starts like JSON and was taken for a sharded-checkpoint index ("no weight_map object").
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header += std::string(123 - header.size(), ' ');  // safetensors pads headers with spaces
  REQUIRE(header.size() == 0x7B);
  TempDir dir;
  write_text(dir / "w.safetensors", raw_file(header, 8));
  CHECK(sniff_checkpoint(dir / "w.safetensors") == CheckpointKind::Safetensors);
  CHECK(load_safetensors(dir / "w.safetensors").at("a").numel() == 2);
  const CliResult r = run_osteofm("weights inspect '" + (dir / "w.safetensors") + "'");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("1 tensors"));
  // A real index still is one.
  write_text(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "w.safetensors"}})");
  CHECK(sniff_checkpoint(dir / "model.safetensors.index.json") == CheckpointKind::Index);
}

TEST_CASE("safetensors: a truncated real fixture fails cleanly and the writer is atomic", "[safetensors]") {
  TempDir dir;
  const std::string bytes = read_text(shared("fixtures/parity/dinov2_hub_noreg_A.safetensors"));
  write_text(dir / "trunc.safetensors", bytes.substr(0, bytes.size() - 100));
  CHECK_THROWS_WITH(SafetensorsFile::open(dir / "trunc.safetensors"), Catch::Contains("trunc.safetensors: tensor '"));
  CHECK_THROWS_WITH(SafetensorsFile::open(dir / "none.safetensors"), Catch::Contains("none.safetensors: no such file"));

  // Writing over an existing file: a failing write leaves the old file whole.
  const std::string target = dir / "keep.safetensors";
  save_safetensors(target, {{"x", torch::ones({2})}});
  const std::string before = read_text(target);
  CHECK_THROWS(save_safetensors(target, {{"x", torch::ones({2})}, {"bad", torch::ones({2}, torch::kComplexFloat)}}));
  CHECK(read_text(target) == before);
  for (const auto& e : fs::directory_iterator(dir.path))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("AtomicFileWriter: an uncommitted write leaves the old file and no temporary", "[atomic]") {
  TempDir dir;
  const std::string target = dir / "result.json";
  write_file_atomic(target, "old");
  {
    AtomicFileWriter w(target);
    w.write("new but unfinished", 18);
    // destroyed without commit(): as if an exception or a crash came mid-write
  }
  CHECK(read_text(target) == "old");
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) (void)e, ++files;
  CHECK(files == 1);
  write_file_atomic(target, "new");
  CHECK(read_text(target) == "new");
}
