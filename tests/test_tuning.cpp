// The three tuning strategies on a real (fixture) DINOv2: what trains, where gradients
// start, and LoRA's two identities (equal to the base at step 0; merged == unmerged).
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/safetensors_torch.hpp"
#include "models/checkpoint.hpp"
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
  // Give the adapters some weight, then compare unmerged and merged outputs.
  for (const auto& item : m->backbone->named_parameters())
    if (item.key().find("_lora.B") != std::string::npos) item.value().normal_(0, 0.05);
  auto unmerged = m->forward(fixture_images());
  CHECK((unmerged - before).abs().max().item<double>() > 1e-3);
  auto* blk = m->backbone->blocks[0]->as<Block>();
  const torch::Tensor delta = blk->attn->qkv_lora->delta_weight();
  CHECK(delta.slice(0, 64, 128).abs().max().item<double>() == 0.0);  // k rows untouched
  CHECK(delta.slice(0, 0, 64).abs().max().item<double>() > 0.0);
  s->finalize(m);
  CHECK_FALSE(blk->attn->qkv_lora);
  for (const auto& item : m->backbone->named_parameters()) CHECK(item.key().find("_lora") == std::string::npos);
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
