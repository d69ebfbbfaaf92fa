// The trainer's parts against closed forms and against LibTorch's own AdamW: the optimizer
// step by step, warmup + cosine, gradient accumulation, early stopping, class weights and
// the parameter groups. Each part is tested alone, without a run folder.
#include <catch2/catch.hpp>

#include <cmath>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "train/adamw.hpp"
#include "train/class_weights.hpp"
#include "core/dotted_values.hpp"
#include "train/config.hpp"
#include "train/config_keys.hpp"
#include "train/early_stopping.hpp"
#include "train/run_folder.hpp"
#include "train/schedule.hpp"
#include "train/stepper.hpp"

using namespace osteofm;

namespace {
constexpr double kPi = 3.14159265358979323846;

// A head and a body with one frozen tensor, as a tuned classifier has.
struct TwoPartImpl : torch::nn::Module {
  TwoPartImpl() {
    body = register_module("body", torch::nn::Linear(4, 5));
    head = register_module("head", torch::nn::Linear(5, 3));
    frozen = register_parameter("frozen", torch::ones({2}), /*requires_grad=*/false);
  }
  torch::Tensor forward(const torch::Tensor& x) { return head(torch::tanh(body(x))); }
  torch::nn::Linear body{nullptr}, head{nullptr};
  torch::Tensor frozen;
};
TORCH_MODULE(TwoPart);

TwoPart seeded_model(uint64_t seed) {
  torch::manual_seed(seed);
  TwoPart m;
  m->to(torch::kFloat64);
  return m;
}

double max_difference(TwoPart& a, TwoPart& b) {
  double d = 0;
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa) d = std::max(d, (item.value() - pb[item.key()]).abs().max().item<double>());
  return d;
}
}  // namespace

TEST_CASE("trainer parts: AdamW equals torch::optim::AdamW step by step, and resumes from its state", "[train][parts]") {
  TwoPart ours = seeded_model(1), theirs = seeded_model(1);
  AdamW opt(head_and_body_groups(*ours, 3e-2, 1e-2, 0.05));
  std::vector<torch::optim::OptimizerParamGroup> groups;
  // The same four groups: weights decay, biases do not.
  groups.emplace_back(std::vector<torch::Tensor>{theirs->head->weight},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(3e-2).weight_decay(0.05)));
  groups.emplace_back(std::vector<torch::Tensor>{theirs->body->weight},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-2).weight_decay(0.05)));
  groups.emplace_back(std::vector<torch::Tensor>{theirs->head->bias},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(3e-2).weight_decay(0.0)));
  groups.emplace_back(std::vector<torch::Tensor>{theirs->body->bias},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-2).weight_decay(0.0)));
  torch::optim::AdamW reference(groups, torch::optim::AdamWOptions(1e-3));
  torch::manual_seed(7);
  const auto x = torch::randn({12, 4}, torch::kFloat64);
  const auto y = torch::randint(0, 3, {12}, torch::kInt64);
  std::map<std::string, torch::Tensor> saved_state;
  TwoPart resumed = seeded_model(1);
  for (int step = 0; step < 6; ++step) {
    for (auto* m : {&ours, &theirs}) {
      auto loss = torch::nn::functional::cross_entropy((*m)->forward(x), y);
      loss.backward();
    }
    opt.step();
    opt.zero_grad();
    reference.step();
    reference.zero_grad();
    INFO("step " << step + 1);
    CHECK(max_difference(ours, theirs) < 1e-14);
    if (step == 2) {  // a checkpoint: parameters and optimizer state
      torch::NoGradGuard ng;
      for (const auto& item : ours->named_parameters()) resumed->named_parameters()[item.key()].copy_(item.value());
      for (const auto& [key, t] : opt.state()) saved_state[key] = t.clone();  // as written to disk
    }
  }
  TwoPart initial = seeded_model(1);
  REQUIRE(max_difference(ours, initial) > 1e-3);  // the comparison is not of untouched weights
  // Steps 4-6 again from the state saved after step 3.
  AdamW again(head_and_body_groups(*resumed, 3e-2, 1e-2, 0.05));
  again.load_state(saved_state);
  for (int step = 3; step < 6; ++step) {
    torch::nn::functional::cross_entropy(resumed->forward(x), y).backward();
    again.step();
    again.zero_grad();
  }
  CHECK(max_difference(ours, resumed) == 0);
}

TEST_CASE("trainer parts: step plan and warmup + cosine against the closed form", "[train][parts]") {
  const StepPlan p = plan_steps(100, 16, 2, 3, 0.5);
  CHECK(p.batches_per_epoch == 7);  // ceil(100 / 16)
  CHECK(p.steps_per_epoch == 4);    // ceil(7 / 2): the last single batch still steps
  CHECK(p.total_steps == 12);
  CHECK(p.warmup_steps == 2);
  const WarmupCosine s(2, 10);
  CHECK(s.factor(0) == Approx(0.5));
  CHECK(s.factor(1) == Approx(1.0));
  CHECK(s.factor(2) == Approx(1.0));  // cos(0)
  CHECK(s.factor(6) == Approx(0.5));  // half way through the cosine
  CHECK(s.factor(9) == Approx(0.5 * (1 + std::cos(kPi * 7 / 8))));
  CHECK(WarmupCosine(0, 4).factor(0) == Approx(1.0));  // no warmup
  CHECK(WarmupCosine(0, 4).factor(4) == Approx(0.0).margin(1e-15));
}

TEST_CASE("trainer parts: accumulating 2 batches of 8 steps like one batch of 16", "[train][parts]") {
  torch::manual_seed(3);
  const auto x = torch::randn({16, 4}, torch::kFloat64);
  const auto y = torch::randint(0, 3, {16}, torch::kInt64);
  TwoPart whole = seeded_model(2), halves = seeded_model(2);
  AdamW opt_whole(head_and_body_groups(*whole, 1e-2, 1e-2, 0.01)), opt_halves(head_and_body_groups(*halves, 1e-2, 1e-2, 0.01));
  OptimizerStepper one(opt_whole, 1, 1.0, WarmupCosine(1, 4)), two(opt_halves, 2, 1.0, WarmupCosine(1, 4));
  for (int epoch = 0; epoch < 3; ++epoch) {
    one.backward(torch::nn::functional::cross_entropy(whole->forward(x), y));
    CHECK(one.after_batch(0, 1));
    two.backward(torch::nn::functional::cross_entropy(halves->forward(x.slice(0, 0, 8)), y.slice(0, 0, 8)));
    CHECK_FALSE(two.after_batch(0, 2));  // the first half only accumulates
    two.backward(torch::nn::functional::cross_entropy(halves->forward(x.slice(0, 8, 16)), y.slice(0, 8, 16)));
    CHECK(two.after_batch(1, 2));
  }
  CHECK(one.global_step() == 3);
  CHECK(two.global_step() == 3);
  CHECK(max_difference(whole, halves) < 1e-12);
  // A partial last group steps too, and the step hook sees every step.
  std::vector<int64_t> seen;
  OptimizerStepper three(opt_halves, 3, 0.0, WarmupCosine(0, 2));
  three.on_step = [&](int64_t step) { seen.push_back(step); };
  CHECK_FALSE(three.after_batch(0, 2));
  CHECK(three.after_batch(1, 2));
  CHECK(seen == std::vector<int64_t>{1});
}

TEST_CASE("trainer parts: the schedule sets each group's rate from its own base rate", "[train][parts]") {
  TwoPart m = seeded_model(4);
  AdamW opt(head_and_body_groups(*m, 1e-3, 1e-4, 0.0));
  OptimizerStepper stepper(opt, 1, 0.0, WarmupCosine(4, 8));
  torch::nn::functional::cross_entropy(m->forward(torch::ones({2, 4}, torch::kFloat64)), torch::tensor({0, 1})).backward();
  stepper.after_batch(0, 1);
  CHECK(opt.groups()[0].lr == Approx(1e-3 * 0.25));
  CHECK(opt.groups()[1].lr == Approx(1e-4 * 0.25));
}

TEST_CASE("trainer parts: early stopping after patience epochs without a strictly better score", "[train][parts]") {
  EarlyStopping s(2);
  CHECK(s.update(0, 0.50));
  CHECK(s.update(1, 0.60));
  CHECK_FALSE(s.update(2, 0.60));  // equal is not better
  CHECK_FALSE(s.should_stop());
  CHECK_FALSE(s.update(3, 0.55));
  CHECK(s.should_stop());
  CHECK(s.best() == 0.60);
  CHECK(s.best_epoch() == 1);
  EarlyStopping resumed(2);
  resumed.restore(0.60, 1, 1);
  CHECK_FALSE(resumed.should_stop());
  CHECK_FALSE(resumed.update(3, 0.55));
  CHECK(resumed.should_stop());
}

TEST_CASE("trainer parts: class weights N / (K n_k), and 1 for plain cross-entropy", "[train][parts]") {
  const std::vector<int> labels{0, 0, 0, 1, 2, 2};
  const auto w = class_weights(labels, true);
  CHECK(w[0] == Approx(6.0 / 9));
  CHECK(w[1] == Approx(2.0));
  CHECK(w[2] == Approx(1.0));
  CHECK(class_weights({0, 0, 2}, true)[1] == 0.0);  // absent from training: never in the loss
  CHECK(class_weights(labels, false) == std::vector<double>{1, 1, 1});
}

TEST_CASE("trainer parts: parameter groups put the head apart and leave frozen tensors out", "[train][parts]") {
  TwoPart m = seeded_model(5);
  const auto groups = head_and_body_groups(*m, 1e-3, 1e-5, 0.05);
  REQUIRE(groups.size() == 4);
  std::vector<std::vector<std::string>> names(4);
  for (size_t g = 0; g < 4; ++g)
    for (const auto& [name, p] : groups[g].params) names[g].push_back(name);
  CHECK(names[0] == std::vector<std::string>{"head.weight"});
  CHECK(names[1] == std::vector<std::string>{"body.weight"});
  CHECK(names[2] == std::vector<std::string>{"head.bias"});
  CHECK(names[3] == std::vector<std::string>{"body.bias"});
  CHECK(groups[0].lr == 1e-3);
  CHECK(groups[1].lr == 1e-5);
  CHECK(groups[2].lr == 1e-3);
  CHECK(groups[3].lr == 1e-5);
  CHECK(groups[0].weight_decay == 0.05);
  CHECK(groups[1].weight_decay == 0.05);
  CHECK(groups[2].weight_decay == 0.0);
  CHECK(groups[3].weight_decay == 0.0);
}

TEST_CASE("trainer parts: weight decay spares biases, norms, LayerScale and the learned tokens", "[train][parts]") {
  // The names of a ViT's tensors (models/vit.cpp keeps timm's), 2-D or more unless noted.
  const std::vector<std::pair<std::string, std::vector<int64_t>>> exempt = {
      {"blocks.0.attn.qkv.bias", {12}},   {"blocks.0.norm1.weight", {4}}, {"blocks.0.norm1.bias", {4}},
      {"blocks.0.ls1.gamma", {4}},        {"norm.weight", {4}},           {"head.bias", {3}},
      {"pos_embed", {1, 17, 4}},          {"cls_token", {1, 1, 4}},       {"register_tokens", {1, 4, 4}},
      {"blocks.0.attn.qkv.lora_A0", {4}}};  // a 1-D adapter tensor would be a scale too
  const std::vector<std::pair<std::string, std::vector<int64_t>>> decayed = {
      {"blocks.0.attn.qkv.weight", {12, 4}}, {"blocks.0.mlp.fc1.weight", {16, 4}}, {"patch_embed.proj.weight", {4, 3, 2, 2}},
      {"head.weight", {3, 4}},               {"blocks.0.attn.qkv.lora_A0", {2, 4}}, {"blocks.0.attn.qkv.base.weight", {12, 4}}};
  for (const auto& [name, shape] : exempt) {
    INFO(name);
    CHECK(exempt_from_weight_decay(name, torch::zeros(shape)));
  }
  for (const auto& [name, shape] : decayed) {
    INFO(name);
    CHECK_FALSE(exempt_from_weight_decay(name, torch::zeros(shape)));
  }
  // A step without gradient signal (zero gradients) moves only the decayed tensors.
  TwoPart m = seeded_model(9);
  const auto before_bias = m->body->bias.clone(), before_weight = m->body->weight.clone();
  AdamW opt(head_and_body_groups(*m, 1e-2, 1e-2, 0.1));
  for (auto& p : m->parameters())
    if (p.requires_grad()) p.mutable_grad() = torch::zeros_like(p);
  opt.step();
  CHECK(torch::equal(m->body->bias, before_bias));
  CHECK(torch::allclose(m->body->weight, before_weight * (1 - 1e-2 * 0.1), 0, 1e-15));
}

TEST_CASE("trainer parts: a run written before a config key existed still resumes (the key reads as its default)",
          "[train][parts]") {
  // A resolved config of today, and the same run's config.json as an older osteofm wrote it:
  // without backbone.image_size / crop_fraction, head.type, train.test_predictions. Before
  // run_identity filled defaults, --resume refused it at 'backbone.crop_fraction'.
  nlohmann::json today = osteofm::default_train_config();
  today["data"]["manifest"] = "/m.csv";
  nlohmann::json older = today;
  older["backbone"].erase("image_size");
  older["backbone"].erase("crop_fraction");
  older["head"].erase("type");
  older["train"].erase("test_predictions");
  CHECK(osteofm::first_difference(osteofm::run_identity(older), osteofm::run_identity(today)).empty());
  // A real difference is still named.
  today["train"]["lr_head"] = 0.5;
  CHECK(osteofm::first_difference(osteofm::run_identity(older), osteofm::run_identity(today)) == "train.lr_head");
  // And the device is not part of a run's identity.
  older["train"]["lr_head"] = 0.5;
  older["train"]["device"] = "cuda:1";
  CHECK(osteofm::first_difference(osteofm::run_identity(older), osteofm::run_identity(today)).empty());
}

TEST_CASE("trainer parts: the typed config reads every declared key and names a missing or mistyped one",
          "[train][parts]") {
  const nlohmann::json resolved =
      osteofm::resolve_train_config_json({{"data", {{"manifest", "/m.csv"}}}}, {"augment.gamma=0.2"}, "c.json", "/");
  const osteofm::RunConfig typed = osteofm::typed_run_config(resolved, "c.json");
  CHECK(typed.data.manifest == "/m.csv");
  CHECK(typed.data.preload == "auto");
  CHECK(typed.train.epochs == 10);
  CHECK(typed.train.lr_head == 1e-3);
  CHECK(typed.augment.enabled);
  CHECK(typed.augment.rotate_deg == 5.0);
  CHECK(typed.augment.gamma == 0.2);
  CHECK(typed.head.type == "softmax");
  CHECK(typed.head.classes == 3);
  CHECK(typed.strategy["name"] == "linear_probe");
  CHECK(typed.document == resolved);
  // Every declared key is bound to a field: without it the typed view is refused, naming
  // it (before, a stored config.json missing a key was read as undefined behaviour).
  for (const osteofm::ConfigKey& k : osteofm::config_keys()) {
    nlohmann::json without = resolved;
    const size_t dot = k.key.rfind('.');
    if (dot == std::string::npos) without.erase(k.key);
    else (*osteofm::make_dotted(without, k.key.substr(0, dot))).erase(k.key.substr(dot + 1));
    INFO(k.key);
    CHECK_THROWS_WITH(osteofm::typed_run_config(without, "run/config.json"),
                      Catch::Equals("run/config.json: config key '" + k.key + "' is missing"));
  }
  nlohmann::json mistyped = resolved;
  mistyped["train"]["epochs"] = "ten";
  CHECK_THROWS_WITH(osteofm::typed_run_config(mistyped, "c.json"),
                    Catch::Equals("c.json: config key 'train.epochs' has the wrong type (\"ten\")"));
  mistyped["train"]["epochs"] = 2.5;
  CHECK_THROWS_WITH(osteofm::typed_run_config(mistyped, "c.json"), Catch::Contains("'train.epochs' has the wrong type"));
  // Allowed values come from the key table (head.type's from the head registry).
  CHECK_THROWS_WITH(osteofm::resolve_train_config_json({{"data", {{"manifest", "/m.csv"}}}}, {"head.feature=avg"}, "c.json", "/"),
                    Catch::Equals("c.json: head.feature must be cls, cls_mean or pooled, not 'avg'"));
  CHECK_THROWS_WITH(osteofm::resolve_train_config_json({{"data", {{"manifest", "/m.csv"}}}}, {"train.loss=focal"}, "c.json", "/"),
                    Catch::Equals("c.json: train.loss must be weighted_ce or ce, not 'focal'"));
  CHECK(osteofm::find_config_key("head.type")->allowed == std::vector<std::string>{"softmax", "ordinal", "tscore"});
}

TEST_CASE("trainer parts: one walker of dotted paths", "[train][parts]") {
  nlohmann::json doc = {{"train", {{"epochs", 3}}}, {"strategy", {{"name", "lora"}}}};
  REQUIRE(osteofm::find_dotted(doc, "train.epochs"));
  CHECK(*osteofm::find_dotted(doc, "train.epochs") == 3);
  CHECK(osteofm::find_dotted(doc, "train.epoch") == nullptr);
  CHECK(osteofm::find_dotted(doc, "train.epochs.x") == nullptr);
  *osteofm::make_dotted(doc, "augment.gamma") = 0.1;
  CHECK(doc["augment"]["gamma"] == 0.1);
  std::string blocked;
  CHECK(osteofm::make_dotted(doc, "train.epochs.x", &blocked) == nullptr);
  CHECK(blocked == "train.epochs");
  CHECK(doc["train"]["epochs"] == 3);
}
