// One training step per strategy: a backbone preset (random weights; dinov2-vitb14 unless
// --preset), the paper's strategy settings (linear probe; partial, last 3 blocks; LoRA rank
// 16 on q and v), AdamW over the trainable tensors with the trainer's weight-decay groups,
// bf16 autocast on CUDA. A step = forward, cross-entropy, backward, optimizer step; the
// linear probe's step is its first epoch's cost per image (the frozen forward that fills the
// feature cache, then the head's step): its later epochs read cached features. One
// configuration per process, so the peak resident memory it reports (getrusage) is that
// configuration's alone; scripts/bench.sh runs the CPU table, scripts/gpu-check.sh the GPU one
// (sampling the GPU's memory and utilisation with nvidia-smi around it).
//
//   osteofm_bench_strategies STRATEGY SIZE [--device cpu|cuda] [--batch 8] [--preset NAME]
//                            [--steps N] [--json]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "core/autocast.hpp"
#include "core/runtime.hpp"
#include "models/checkpoint.hpp"
#include "models/classifier.hpp"
#include "models/embed.hpp"
#include "train/adamw.hpp"
#include "tuning/strategy.hpp"

using namespace osteofm;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s linear_probe|partial|lora SIZE [--device D] [--batch B] [--preset P] [--steps N] [--json]\n",
                 argv[0]);
    return 2;
  }
  const std::string name = argv[1];
  const int size = std::stoi(argv[2]);
  std::string device_name = "cpu", preset = "dinov2-vitb14";
  int batch = 8, steps = 0;
  bool as_json = false;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--device") device_name = value();
    else if (a == "--batch") batch = std::stoi(value());
    else if (a == "--preset") preset = value();
    else if (a == "--steps") steps = std::stoi(value());
    else if (a == "--json") as_json = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  const torch::Device device = resolve_device(device_name);
  set_threads(hardware_threads());  // osteofm's default: every core to OpenBLAS, LibTorch intra-op 1 (bench_threads)
  nlohmann::json config = {{"name", name}};
  if (name == "partial") config["blocks"] = 3;
  if (name == "lora") config = {{"name", "lora"}, {"rank", 16}, {"alpha", 16}, {"dropout", 0.1}, {"targets", {"qv"}}};
  Backbone b = load_backbone({preset, "", "", 1});
  Classifier model(b.vit, HeadOptions{});
  const auto strategy = make_strategy(config);
  strategy->apply(model);
  model->to(device);
  AdamW opt(head_and_body_groups(*model, 1e-3, 1e-4, 0.05));
  torch::manual_seed(1);
  const auto x = torch::randn({batch, 3, size, size}).to(device);
  const auto y = torch::randint(0, 3, {batch}, torch::kInt64).to(device);
  model->train();
  auto step = [&] {
    torch::Tensor logits;
    {
      CudaAutocast autocast(device.is_cuda());
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
    }
    torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y).backward();
    opt.step();
    opt.zero_grad();
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  step();  // warm-up (allocator, kernels)
  int done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double seconds = 0;
  while ((steps > 0 && done < steps) || (steps <= 0 && (done < 2 || seconds < 5.0))) {
    step();
    ++done;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double images_per_s = batch * done / seconds;
  if (as_json) {
    std::printf("%s\n", nlohmann::json{{"strategy", name},
                                      {"size", size},
                                      {"preset", preset},
                                      {"device", device_name},
                                      {"batch", batch},
                                      {"steps", done},
                                      {"images_per_s", images_per_s},
                                      {"peak_rss_mib", usage.ru_maxrss / 1024.0},
                                      {"trainable_parameters", trainable_parameter_count(*model)}}
                            .dump()
                            .c_str());
  } else {
    std::printf("%-13s %4d px  batch %d  %7.2f images/s  peak RSS %6.0f MiB  (%lld trainable)\n", name.c_str(), size,
                batch, images_per_s, usage.ru_maxrss / 1024.0, static_cast<long long>(trainable_parameter_count(*model)));
  }
  return 0;
}
