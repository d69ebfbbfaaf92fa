// The three tuning strategies on a real (fixture) DINOv2: what trains, where gradients
// start, and LoRA's two identities (equal to the base at step 0; merged == unmerged). And
// what lets strategies and explainers work without the ViT knowing them: swappable Linear
// layers, activations returned by the forward pass, a family without a class token.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "explain/gradcam.hpp"
#include "explain/rollout.hpp"
#include "io/safetensors_torch.hpp"
#include "models/checkpoint.hpp"
#include "models/embed.hpp"
#include "tuning/strategy.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

namespace {
Classifier fixture_classifier(const TempDir& tmp, HeadOptions head = {}) {
  const fs::path dir = shared("fixtures/parity");
  const json fx = json::parse(read_text((dir / "dinov2_hub_noreg_A.json").string()));
  write_text(tmp / "arch.json", fx.at("arch_json").dump());
  Backbone b = load_backbone({"dinov2-vitb14", tmp / "arch.json", (dir / "dinov2_hub_noreg_A.safetensors").string()});
  torch::manual_seed(3);
  return Classifier(b.vit, head);
}
torch::Tensor fixture_images() {
  return load_safetensors(shared("fixtures/parity/inputs.safetensors")).at("pixel_values_224_imagenet");
}
}  // namespace

TEST_CASE("tuning: linear probe trains the head only", "[tuning]") {
  TempDir tmp;
  Classifier m = fixture_classifier(tmp);
  auto s = make_strategy(json{{"name", "linear_probe"}});
  s->apply(m);
  CHECK(s->frozen_backbone());
  CHECK(trainable_parameter_count(*m) == 64 * 3 + 3);
  CHECK(trainable_body_parameters(m).empty());
  m->train();
  auto loss = m->forward(fixture_images()).sum();
  loss.backward();
  CHECK(m->head->weight.grad().defined());
  for (const auto& p : m->backbone->parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("tuning: partial fine-tune computes no gradient below its first block", "[tuning]") {
  TempDir tmp;
  Classifier m = fixture_classifier(tmp, HeadOptions{"cls_mean", true, 3});
  auto s = make_strategy(json{{"name", "partial"}, {"blocks", 1}});
  s->apply(m);
  CHECK_FALSE(s->frozen_backbone());
  CHECK(m->first_grad_block == 2);
  m->eval();
  auto loss = m->forward(fixture_images()).pow(2).sum();
  loss.backward();
  for (const auto& item : m->backbone->named_parameters()) {
    INFO(item.key());
    const bool trainable = item.key().rfind("blocks.2.", 0) == 0 || item.key().rfind("norm.", 0) == 0;
    CHECK(item.value().requires_grad() == trainable);
    CHECK(item.value().grad().defined() == trainable);
  }
  // Block 2's input came out of a no-grad region: nothing below it is in the graph.
  int gh = 0, gw = 0;
  torch::Tensor x;
  {
    torch::NoGradGuard ng;
    x = m->backbone->embed(fixture_images(), &gh, &gw);
  }
  CHECK_FALSE(x.requires_grad());
  // The features equal a plain forward (no-grad changes nothing numerically).
  torch::NoGradGuard ng;
  m->first_grad_block = 0;
  auto a = m->features(fixture_images());
  m->first_grad_block = 2;
  CHECK(torch::allclose(a, m->features(fixture_images())));
  CHECK(a.size(1) == 128);  // cls_mean: 2 x width
  CHECK_THROWS_AS(make_strategy(json{{"name", "partial"}, {"blocks", 9}})->apply(m), InputError);
}

TEST_CASE("tuning: LoRA equals the base at step 0, merges exactly, touches only q and v", "[tuning]") {
  TempDir tmp;
  Classifier m = fixture_classifier(tmp);
  m->eval();
  torch::Tensor before;
  {
    torch::NoGradGuard ng;
    before = m->forward(fixture_images());
  }
  auto s = make_strategy(json{{"name", "lora"}, {"rank", 4}, {"alpha", 8}, {"dropout", 0.0}, {"targets", {"qv", "fc2"}}});
  s->apply(m);
  // Trainable: head + per block (q and v adapters: 2 x (4x64 + 64x4)) + fc2 adapter (4x256 + 64x4).
  CHECK(trainable_parameter_count(*m) == (64 * 3 + 3) + 3 * (2 * (4 * 64 + 64 * 4) + (4 * 256 + 64 * 4)));
  torch::NoGradGuard ng;
  CHECK(torch::equal(m->forward(fixture_images()), before));  // B = 0
  // The adapters wrap the layers in place (peft's naming: the frozen base under "base").
  const auto wrapped = m->backbone->named_parameters();
  REQUIRE(wrapped.contains("blocks.0.attn.qkv.base.weight"));
  CHECK_FALSE(wrapped["blocks.0.attn.qkv.base.weight"].requires_grad());
  CHECK(wrapped["blocks.0.attn.qkv.lora_A0"].requires_grad());
  CHECK(wrapped.contains("blocks.0.mlp.fc2.lora_B0"));
  CHECK_FALSE(wrapped.contains("blocks.0.attn.proj.lora_A0"));  // not a target
  const torch::Tensor qkv_before = wrapped["blocks.0.attn.qkv.base.weight"].clone();
  // Give the adapters some weight, then compare unmerged and merged outputs.
  for (const auto& item : m->backbone->named_parameters())
    if (item.key().find("lora_B") != std::string::npos) item.value().normal_(0, 0.05);
  auto unmerged = m->forward(fixture_images());
  CHECK((unmerged - before).abs().max().item<double>() > 1e-3);
  s->finalize(m);
  // Merged: the plain ViT's layers and names again, with q and v rows moved, k rows not.
  auto* blk = m->backbone->blocks[0]->as<Block>();
  CHECK(std::dynamic_pointer_cast<DenseLinear>(blk->attn->qkv));
  for (const auto& item : m->backbone->named_parameters()) CHECK(item.key().find("lora") == std::string::npos);
  const torch::Tensor delta = m->backbone->named_parameters()["blocks.0.attn.qkv.weight"] - qkv_before;
  CHECK(delta.slice(0, 64, 128).abs().max().item<double>() == 0.0);  // k rows untouched
  CHECK(delta.slice(0, 0, 64).abs().max().item<double>() > 0.0);
  CHECK(delta.slice(0, 128, 192).abs().max().item<double>() > 0.0);
  const double diff = (m->forward(fixture_images()) - unmerged).abs().max().item<double>();
  CHECK(diff < 1e-4 * unmerged.abs().max().item<double>());
}

TEST_CASE("tuning: strategies are chosen by name with checked fields", "[tuning]") {
  CHECK_THROWS_WITH(make_strategy(json{{"name", "full"}}), Catch::Contains("unknown name 'full'") && Catch::Contains("lora"));
  CHECK_THROWS_WITH(make_strategy(json{{"name", "lora"}, {"rnak", 4}}), Catch::Contains("unknown field 'rnak'"));
  CHECK_THROWS_AS(make_strategy(json{{"name", "lora"}, {"rank", "four"}}), InputError);
  TempDir tmp;
  Classifier m = fixture_classifier(tmp);
  CHECK_THROWS_WITH(make_strategy(json{{"name", "lora"}, {"targets", {"query"}}})->apply(m), Catch::Contains("unknown target 'query'"));
}

namespace {
// A wrapper the ViT has never heard of (as a DoRA or bottleneck adapter would be): the
// wrapped layer's output, scaled.
struct ScaledLinear : LinearLayer {
  ScaledLinear(std::shared_ptr<LinearLayer> layer, double s) : inner(std::move(layer)), scale(s) {
    register_module("inner", inner);
  }
  torch::Tensor forward(const torch::Tensor& x) override { return inner->forward(x) * scale; }
  std::shared_ptr<LinearLayer> inner;
  double scale;
};

ArchConfig tiny_arch() {
  ArchConfig a;
  a.patch_size = 7;
  a.image_size = 28;
  a.width = 8;
  a.depth = 2;
  a.heads = 2;
  a.mlp_dim = 16;
  return a;
}
}  // namespace

TEST_CASE("vit: a family without a class token pools its patches, and Grad-CAM reads it without touching the model",
          "[tuning]") {
  ArchConfig a = tiny_arch();
  a.class_token = false;
  a.pool = "mean";
  a.registers = 1;
  torch::manual_seed(5);
  VisionTransformer vit(a);
  {
    torch::NoGradGuard ng;
    for (auto& p : vit->parameters()) p.normal_(0, 0.2);
  }
  const auto params = vit->named_parameters();
  CHECK_FALSE(params.contains("cls_token"));
  CHECK(params["pos_embed"].sizes() == torch::IntArrayRef({1, 16, 8}));  // no class position
  CHECK(vit->prefix_tokens() == 1);
  const auto x = torch::randn({2, 3, 28, 28});
  {
    torch::NoGradGuard ng;
    const VitOutput out = vit->forward(x);
    CHECK_FALSE(out.cls.defined());
    CHECK(out.registers.sizes() == torch::IntArrayRef({2, 1, 8}));
    CHECK(out.patch_tokens.sizes() == torch::IntArrayRef({2, 16, 8}));
    CHECK(torch::equal(out.pooled, out.patch_tokens.mean(1)));
    // Another grid: the position table (patches only) is interpolated.
    CHECK(vit->forward(torch::randn({1, 3, 42, 42})).patch_tokens.sizes() == torch::IntArrayRef({1, 36, 8}));
  }
  // The switches are checked once, where the arch is read and where the head is built.
  CHECK_THROWS_WITH(arch_from_json(json{{"class_token", false}}, tiny_arch(), "arch.json"),
                    Catch::Contains("arch.json") && Catch::Contains("pool 'cls' needs a class token"));
  CHECK(arch_from_json(json{{"class_token", false}, {"pool", "mean"}}, tiny_arch(), "arch.json").class_token == false);
  CHECK_THROWS_WITH(Classifier(vit, HeadOptions{"cls", false, 3}), Catch::Contains("needs a class token"));

  Classifier m(vit, HeadOptions{"pooled", false, 3});
  make_strategy(json{{"name", "linear_probe"}})->apply(m);
  m->eval();
  torch::Tensor logits_before;
  {
    torch::NoGradGuard ng;
    logits_before = m->forward(x);
  }
  const GradCamResult cam = grad_cam(m, x, {kPredictedClass, 0}, CamMethod::GradCam);
  CHECK(cam.cam_grid.sizes() == torch::IntArrayRef({2, 4, 4}));
  CHECK(torch::allclose(cam.logits, logits_before, 1e-6, 1e-7));
  CHECK(cam.cam_grid.abs().sum().item<double>() > 0);
  // Nothing on the model changed: where autograd starts, what trains, no gradients left.
  CHECK(m->first_grad_block == a.depth);
  for (const auto& item : m->named_parameters()) {
    INFO(item.key());
    CHECK(item.value().requires_grad() == (item.key().rfind("head.", 0) == 0));
    CHECK_FALSE(item.value().grad().defined());
  }
  CHECK_THROWS_WITH(attention_rollout(m, x, {0, 0}), Catch::Contains("no class token"));
}

TEST_CASE("vit: a strategy wraps any block Linear through linear_sites, and the ViT runs it unchanged", "[tuning]") {
  torch::manual_seed(6);
  VisionTransformer vit(tiny_arch());
  vit->eval();
  const auto x = torch::randn({1, 3, 28, 28});
  torch::NoGradGuard ng;
  const auto before = vit->forward(x).cls;
  const auto sites = vit->linear_sites();
  REQUIRE(sites.size() == 8);  // 2 blocks x (qkv, proj, fc1, fc2)
  CHECK(sites[5].block == 1);
  CHECK(sites[5].role == "proj");
  const auto original = sites[5].layer();
  sites[5].replace(std::make_shared<ScaledLinear>(original, 2.0));
  const auto names = vit->named_parameters();
  CHECK(names.contains("blocks.1.attn.proj.inner.weight"));
  CHECK_FALSE(names.contains("blocks.1.attn.proj.weight"));
  CHECK_FALSE(torch::equal(vit->forward(x).cls, before));
  sites[5].replace(original);
  CHECK(torch::equal(vit->forward(x).cls, before));
  CHECK(vit->named_parameters().contains("blocks.1.attn.proj.weight"));
}

TEST_CASE("heads: ordinal and tscore class probabilities follow their definitions", "[tuning]") {
  TempDir tmp;
  HeadOptions ordinal;
  ordinal.type = "ordinal";
  Classifier m = fixture_classifier(tmp, ordinal);
  const auto cuts = m->ordinal_cuts();
  REQUIRE(cuts[0].item<double>() < cuts[1].item<double>());
  const auto s = torch::tensor({-3.0f, -0.2f, 0.0f, 0.4f, 6.0f}).unsqueeze(1);
  const auto p = torch::softmax(m->class_scores(s), 1);
  auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  const double t1 = cuts[0].item<double>(), t2 = cuts[1].item<double>();
  for (int i = 0; i < 5; ++i) {
    const double si = s[i][0].item<double>();
    CHECK(p[i][0].item<double>() == Approx(1 - sig(si - t1)).margin(1e-6));
    CHECK(p[i][1].item<double>() == Approx(sig(si - t1) - sig(si - t2)).margin(1e-6));
    CHECK(p[i][2].item<double>() == Approx(sig(si - t2)).margin(1e-6));
  }
  // A higher score never lowers P(osteoporosis) nor raises P(normal): the order is built in.
  for (int i = 1; i < 5; ++i) {
    CHECK(p[i][2].item<double>() >= p[i - 1][2].item<double>());
    CHECK(p[i][0].item<double>() <= p[i - 1][0].item<double>());
  }

  HeadOptions tscore;
  tscore.type = "tscore";
  Classifier t = fixture_classifier(tmp, tscore);
  const auto out = torch::tensor({{-3.0f, 0.0f}, {-1.7f, -1.0f}, {0.5f, 2.0f}});
  const auto [mean, sd] = t->tscore_distribution(out);
  const auto q = torch::softmax(t->class_scores(out), 1);
  auto phi = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  for (int i = 0; i < 3; ++i) {
    const double mu = mean[i].item<double>(), sigma = sd[i].item<double>();
    CHECK(sigma == Approx(std::log1p(std::exp(out[i][1].item<double>())) + 0.01).margin(1e-6));
    CHECK(q[i][2].item<double>() == Approx(phi((-2.5 - mu) / sigma)).margin(1e-5));
    CHECK(q[i][0].item<double>() == Approx(1 - phi((-1.0 - mu) / sigma)).margin(1e-5));
  }
  HeadOptions unknown;
  unknown.type = "coral";
  CHECK_THROWS_WITH(fixture_classifier(tmp, unknown), Catch::Contains("head.type must be softmax, ordinal or tscore"));
}

// embed_tensor leaves the caller's backbone as it found it (it was left in float32 on the
// embedding device, whatever it came as).
TEST_CASE("embed: the backbone keeps its device and precision after embedding", "[tuning]") {
  TempDir tmp;
  const fs::path dir = shared("fixtures/parity");
  const json fx = json::parse(read_text((dir / "dinov2_hub_noreg_A.json").string()));
  write_text(tmp / "arch.json", fx.at("arch_json").dump());
  Backbone b = load_backbone({"dinov2-vitb14", tmp / "arch.json", (dir / "dinov2_hub_noreg_A.safetensors").string()});
  b.vit->to(torch::kBFloat16);
  EmbedOptions o;
  o.device = "cpu";
  o.precision = "fp32";
  const Embeddings e = embed_tensor(b, fixture_images().slice(0, 0, 1), o);
  CHECK(e.pooled.scalar_type() == torch::kFloat32);
  for (const auto& p : b.vit->parameters()) REQUIRE(p.scalar_type() == torch::kBFloat16);
}
