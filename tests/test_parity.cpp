// Backbone parity: every model fixture of ../shared/fixtures/parity (built by the
// upstream reference code) loaded through `osteofm embed`, the path a user takes, and
// compared at the fixture's stated tolerance (max|Y - E| <= 1e-4 * max|E|).
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/safetensors_torch.hpp"
#include "models/checkpoint.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {
struct Expectation {
  std::string ours;      // cls | patch_tokens | pooled
  std::string key;       // expected tensor
  int token = -2;        // -2: whole tensor; 0: [:,0]; 1: [:,1:]
};

std::string preset_for(const std::string& kind) {
  if (kind == "dinov2_hub") return "dinov2-vitb14";
  if (kind == "hf_dinov2") return "rad-dino";
  if (kind == "openclip") return "openclip-vitb16";
  if (kind == "chexagent_vision") return "chexagent-8b-vision";
  return "";
}

std::vector<Expectation> expectations(const std::string& kind, const std::string& res) {
  const std::string p = res == "native" ? "" : res + ".";
  if (kind == "dinov2_hub")
    return {{"cls", p + "x_norm_clstoken"}, {"patch_tokens", p + "x_norm_patchtokens"}, {"pooled", p + "x_norm_clstoken"}};
  if (kind == "hf_dinov2")
    return {{"cls", p + "last_hidden_state", 0}, {"patch_tokens", p + "last_hidden_state", 1}, {"pooled", p + "pooler_output"}};
  if (kind == "openclip")
    return {{"pooled", "image_features"}, {"cls", "pooled_pre_proj"}, {"patch_tokens", "tokens"}};
  // BLIP-2: pooled is the singly-normed CLS (HF's pooler_output normalises twice).
  return {{"cls", "last_hidden_state", 0}, {"patch_tokens", "last_hidden_state", 1}, {"pooled", "last_hidden_state", 0}};
}

void check_tensor(const torch::Tensor& got, torch::Tensor expected, int token, double max_abs_diff) {
  if (token == 0) expected = expected.select(1, 0);
  if (token == 1) expected = expected.slice(1, 1);
  REQUIRE(got.sizes() == expected.sizes());
  const double diff = (got - expected).abs().max().item<double>();
  INFO("max abs diff " << diff << ", allowed " << max_abs_diff);
  CHECK(diff <= max_abs_diff);
}
}  // namespace

TEST_CASE("parity: every backbone fixture through osteofm embed matches upstream", "[parity]") {
  const fs::path dir = shared("fixtures/parity");
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string fname = entry.path().filename().string();
    if (entry.path().extension() != ".json" || fname.find(".config.json") != std::string::npos ||
        fname.rfind("provenance", 0) == 0)
      continue;
    const json fx = json::parse(read_text(entry.path().string()));
    const std::string kind = fx.at("kind");
    const std::string preset = preset_for(kind);
    if (preset.empty()) continue;  // gradcam: its own test with explain
    const std::string name = fx.at("fixture");
    INFO(name);
    TempDir tmp;
    // Weights as a user has them: the HF config.json (when the fixture has one) beside them.
    const std::string weights = tmp / "model.safetensors";
    fs::copy_file(dir / (name + ".safetensors"), weights);
    if (fs::exists(dir / (name + ".config.json"))) fs::copy_file(dir / (name + ".config.json"), tmp / "config.json");
    write_text(tmp / "arch.json", fx.at("arch_json").dump());
    const auto expected = load_safetensors((dir / (name + ".expected.safetensors")).string());
    for (const auto& [res, spec] : fx.at("inputs").items()) {
      const std::string input_key = spec.get<std::string>().substr(0, spec.get<std::string>().find(' '));
      const std::string out = tmp / ("out_" + res + ".safetensors");
      CliResult r = run_osteofm("embed --backbone " + preset + " --arch '" + (tmp / "arch.json") + "' --weights '" +
                                weights + "' --tensor '" + dir.string() + "/" + input_key + "' --out '" + out + "'");
      INFO(r.err);
      REQUIRE(r.code == 0);
      const auto got = load_safetensors(out);
      for (const auto& e : expectations(kind, res)) {
        INFO(res << " " << e.ours << " vs " << e.key);
        REQUIRE(expected.count(e.key));
        check_tensor(got.at(e.ours), expected.at(e.key), e.token,
                     fx["tolerance"]["per_output"][e.key]["max_abs_diff"].get<double>());
        ++compared;
      }
    }
  }
  CHECK(compared >= 27);  // 9 fixture inputs x (cls, patch_tokens, pooled)
}

TEST_CASE("parity: position-table interpolations and pre-block embeddings match upstream", "[parity]") {
  const fs::path dir = shared("fixtures/parity");
  struct Case {
    std::string fixture, preset, key;
  };
  for (const Case& c : {Case{"dinov2_hub_noreg_A", "dinov2-vitb14", "224.pos_embed_interp"},
                        Case{"dinov2_hub_reg4_A", "dinov2-vitb14", "224.pos_embed_interp"},
                        Case{"hf_dinov2_A", "rad-dino", "224.position_embeddings_interp"}}) {
    INFO(c.fixture);
    const json fx = json::parse(read_text((dir / (c.fixture + ".json")).string()));
    TempDir tmp;
    write_text(tmp / "arch.json", fx.at("arch_json").dump());
    Backbone b = load_backbone({c.preset, tmp / "arch.json", (dir / (c.fixture + ".safetensors")).string()});
    const auto expected = load_safetensors((dir / (c.fixture + ".expected.safetensors")).string());
    torch::NoGradGuard ng;
    check_tensor(b.vit->position_embedding(16, 16), expected.at(c.key), -2,
                 fx["tolerance"]["per_output"][c.key]["max_abs_diff"].get<double>());
  }
  // The three interpolations really differ (mixing them up must be caught).
  const json fx = json::parse(read_text((dir / "dinov2_hub_noreg_A.json").string()));
  TempDir tmp;
  json arch = fx.at("arch_json");
  arch["pos_interp"] = "bicubic";
  write_text(tmp / "arch.json", arch.dump());
  Backbone wrong = load_backbone({"dinov2-vitb14", tmp / "arch.json", (dir / "dinov2_hub_noreg_A.safetensors").string()});
  const auto expected = load_safetensors((dir / "dinov2_hub_noreg_A.expected.safetensors").string());
  torch::NoGradGuard ng;
  CHECK((wrong.vit->position_embedding(16, 16) - expected.at("224.pos_embed_interp")).abs().max().item<double>() > 1e-3);

  // OpenCLIP: the input of block 0, after ln_pre.
  const json oc = json::parse(read_text((dir / "openclip_quickgelu_A.json").string()));
  write_text(tmp / "oc.json", oc.at("arch_json").dump());
  Backbone clip = load_backbone({"openclip-vitb16", tmp / "oc.json", (dir / "openclip_quickgelu_A.safetensors").string()});
  const auto inputs = load_safetensors((dir / "inputs.safetensors").string());
  const auto exp_clip = load_safetensors((dir / "openclip_quickgelu_A.expected.safetensors").string());
  int gh = 0, gw = 0;
  check_tensor(clip.vit->embed(inputs.at("pixel_values_224_imagenet"), &gh, &gw), exp_clip.at("embeds_after_ln_pre"), -2,
               oc["tolerance"]["per_output"]["embeds_after_ln_pre"]["max_abs_diff"].get<double>());
}

TEST_CASE("weights: wrong or missing tensors are listed by name with shapes, exit 2", "[parity][cli]") {
  const fs::path dir = shared("fixtures/parity");
  TempDir tmp;
  // DINOv2 weights into a deeper arch: blocks 3.. are missing.
  const json fx = json::parse(read_text((dir / "dinov2_hub_noreg_A.json").string()));
  json arch = fx.at("arch_json");
  arch["depth"] = 4;
  write_text(tmp / "deep.json", arch.dump());
  CliResult r = run_osteofm("embed --backbone dinov2-vitb14 --arch '" + (tmp / "deep.json") + "' --weights '" +
                            (dir / "dinov2_hub_noreg_A.safetensors").string() + "' --tensor '" + dir.string() +
                            "/inputs.safetensors:pixel_values_224_imagenet' --out '" + (tmp / "o.safetensors") + "'");
  CHECK(r.code == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("missing (blocks.3.norm1.weight [64]"));
  // Wider arch: shape mismatches with expected and found shapes.
  arch["depth"] = 3;
  arch["width"] = 128;
  write_text(tmp / "wide.json", arch.dump());
  r = run_osteofm("embed --backbone dinov2-vitb14 --arch '" + (tmp / "wide.json") + "' --weights '" +
                  (dir / "dinov2_hub_noreg_A.safetensors").string() + "' --tensor '" + dir.string() +
                  "/inputs.safetensors:pixel_values_224_imagenet' --out '" + (tmp / "o.safetensors") + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("cls_token expected [1, 1, 128] found [1, 1, 64]"));
  CHECK_FALSE(fs::exists(tmp / "o.safetensors"));
  // A pickle is refused with the conversion command.
  write_text(tmp / "model.pth", "not really a pickle");
  r = run_osteofm("embed --backbone rad-dino --weights '" + (tmp / "model.pth") + "' --tensor x.safetensors --out '" +
                  (tmp / "o.safetensors") + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("model.pth: pickled PyTorch checkpoints can execute code") && Catch::Contains("save_file"));
  // Unknown preset names the known ones.
  r = run_osteofm("embed --backbone dinov3 --tensor x.safetensors --out '" + (tmp / "o.safetensors") + "'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("unknown backbone preset 'dinov3'") && Catch::Contains("rad-dino"));
}

TEST_CASE("weights: a sharded checkpoint opens only the vision tower's shards", "[parity]") {
  const fs::path dir = shared("fixtures/parity");
  TempDir tmp;
  // Split the CheXagent fixture into two shards: the vision tower, and the decoys.
  auto all = load_safetensors((dir / "chexagent_vision_A.safetensors").string());
  std::map<std::string, torch::Tensor> vision, other;
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  for (const auto& [k, v] : all) {
    const bool is_vision = k.rfind("vision_model.", 0) == 0;
    (is_vision ? vision : other)[k] = v;
    index["weight_map"][k] = is_vision ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  REQUIRE_FALSE(other.empty());  // the decoys (query_tokens, qformer.*, language_projection.*)
  save_safetensors(tmp / "model-00001-of-00002.safetensors", vision);
  write_text(tmp / "model-00002-of-00002.safetensors", "garbage: must never be opened");
  write_text(tmp / "model.safetensors.index.json", index.dump());
  fs::copy_file(dir / "chexagent_vision_A.config.json", tmp / "config.json");
  Backbone b = load_backbone({"chexagent-8b-vision", "", tmp / "model.safetensors.index.json"});
  CHECK(b.preset.arch.width == 48);  // from config.json's vision_config
  CHECK(b.preset.arch.depth == 2);
  const auto inputs = load_safetensors((dir / "inputs.safetensors").string());
  const auto expected = load_safetensors((dir / "chexagent_vision_A.expected.safetensors").string());
  torch::NoGradGuard ng;
  VitOutput o = b.vit->forward(inputs.at("pixel_values_224_imagenet"));
  const json fx = json::parse(read_text((dir / "chexagent_vision_A.json").string()));
  check_tensor(o.cls, expected.at("last_hidden_state"), 0,
               fx["tolerance"]["per_output"]["last_hidden_state"]["max_abs_diff"].get<double>());
}

TEST_CASE("embed: bf16 precision stays close to the fp32 reference", "[parity]") {
  const fs::path dir = shared("fixtures/parity");
  const json fx = json::parse(read_text((dir / "dinov2_hub_noreg_A.json").string()));
  TempDir tmp;
  write_text(tmp / "arch.json", fx.at("arch_json").dump());
  CliResult r = run_osteofm("embed --backbone dinov2-vitb14 --precision bf16 --arch '" + (tmp / "arch.json") +
                            "' --weights '" + (dir / "dinov2_hub_noreg_A.safetensors").string() + "' --tensor '" +
                            dir.string() + "/inputs.safetensors:pixel_values_224_imagenet' --out '" + (tmp / "o.safetensors") + "'");
  REQUIRE(r.code == 0);
  const auto got = load_safetensors(tmp / "o.safetensors");
  const auto expected = load_safetensors((dir / "dinov2_hub_noreg_A.expected.safetensors").string());
  const auto e = expected.at("224.x_norm_clstoken");
  const double rel = ((got.at("cls") - e).abs().max() / e.abs().max()).item<double>();
  CHECK(rel < 0.05);   // bf16 keeps ~3 significant digits through 3 blocks
  CHECK(rel > 1e-5);   // and really ran in bf16
}

TEST_CASE("weights: tensors the architecture does not use are reported as unexpected", "[parity]") {
  const fs::path dir = shared("fixtures/parity");
  const json fx = json::parse(read_text((dir / "openclip_gelu_A.json").string()));
  TempDir tmp;
  json arch = fx.at("arch_json");
  arch["depth"] = 1;  // the checkpoint has 2 blocks
  write_text(tmp / "a.json", arch.dump());
  try {
    load_backbone({"openclip-vitb16", tmp / "a.json", (dir / "openclip_gelu_A.safetensors").string()});
    FAIL("loaded a checkpoint with an unused block");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("unexpected (visual.transformer.resblocks.1."));
    CHECK(msg.find("transformer.resblocks.1.ln_1.weight") != std::string::npos);
    CHECK(msg.find("token_embedding") == std::string::npos);  // the text tower is ignored, not unexpected
  }
}
