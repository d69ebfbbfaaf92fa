// One training step per strategy at two input sizes on CPU: dinov2-vitb14 (random weights),
// batch 8, the paper's strategy settings (linear probe; partial, last 3 blocks; LoRA rank 16
// on q and v), AdamW over the trainable tensors with the trainer's weight-decay groups.
// A step = forward, cross-entropy, backward, optimizer step; the linear probe's step is its
// first epoch's cost per image (the frozen forward that fills the feature cache, then the
// head's step): its later epochs read cached features. One configuration per process
// (`osteofm_bench_strategies STRATEGY SIZE`), so the peak resident memory it prints
// (getrusage) is that configuration's alone; scripts/bench.sh runs them all.
#include <sys/resource.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "bench_timing.hpp"

#include "core/runtime.hpp"
#include "models/checkpoint.hpp"
#include "models/classifier.hpp"
#include "train/adamw.hpp"
#include "tuning/strategy.hpp"

using namespace osteofm;
using osteofm::bench::seconds_per_call;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s linear_probe|partial|lora SIZE\n", argv[0]);
    return 2;
  }
  const std::string name = argv[1];
  const int size = std::stoi(argv[2]);
  set_threads(1);  // the default policy on these VMs (bench_threads)
  nlohmann::json config = {{"name", name}};
  if (name == "partial") config["blocks"] = 3;
  if (name == "lora") config = {{"name", "lora"}, {"rank", 16}, {"alpha", 16}, {"dropout", 0.1}, {"targets", {"qv"}}};
  Backbone b = load_backbone({"dinov2-vitb14", "", "", 1});
  Classifier model(b.vit, HeadOptions{});
  const auto strategy = make_strategy(config);
  strategy->apply(model);
  AdamW opt(head_and_body_groups(*model, 1e-3, 1e-4, 0.05));
  torch::manual_seed(1);
  const auto x = torch::randn({8, 3, size, size});
  const auto y = torch::randint(0, 3, {8}, torch::kInt64);
  model->train();
  const double step = seconds_per_call([&] {
    torch::Tensor logits;
    if (strategy->frozen_backbone()) {
      torch::Tensor features;
      {
        torch::NoGradGuard ng;
        features = model->features(x);
      }
      logits = model->head_logits(features);
    } else {
      logits = model->forward(x);
    }
    torch::nn::functional::cross_entropy(logits, y).backward();
    opt.step();
    opt.zero_grad();
  }, 2, 5.0);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("%-13s %4d px  %6.2f images/s  peak RSS %6.0f MiB  (%lld trainable tensors' elements)\n", name.c_str(), size,
              8 / step, usage.ru_maxrss / 1024.0, static_cast<long long>(trainable_parameter_count(*model)));
  return 0;
}
