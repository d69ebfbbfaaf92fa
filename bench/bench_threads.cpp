// Which CPU thread counts osteofm should use: LibTorch's intra-op threads x OpenBLAS's own
// pool, on an embed (dinov2-vitb14 random weights, 224 px, batch 4, no gradient) and on a
// training step (same model, batch 8, the last two blocks and the head trained: forward,
// cross-entropy, backward). scripts/bench.sh runs it under OpenBLAS's pthreads build and,
// when installed, its OpenMP build (LD_LIBRARY_PATH), so the flavour is measured too. The
// figures are ratios against intra 1 x BLAS 1 in the same run.
#include <cstdio>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bench_timing.hpp"

#include "core/runtime.hpp"
#include "models/checkpoint.hpp"
#include "models/classifier.hpp"
#include "models/embed.hpp"

using namespace osteofm;
using osteofm::bench::seconds_per_call;

int main() {
  const BlasInfo blas = detect_blas();
  const int cores = hardware_threads();
  std::printf("BLAS %s (%s build), %d cores\n", blas.library.c_str(), blas.threading.c_str(), cores);
  Backbone b = load_backbone({"dinov2-vitb14", "", "", 1});
  Classifier model(b.vit, HeadOptions{});
  for (auto& item : model->named_parameters()) {
    const std::string& n = item.key();
    const bool trains = n.rfind("head", 0) == 0 || n.find("blocks.10.") != std::string::npos ||
                        n.find("blocks.11.") != std::string::npos;
    item.value().set_requires_grad(trains);
  }
  const int S = b.preset.preprocessing.size;
  torch::manual_seed(1);
  const auto embed_x = torch::randn({4, 3, S, S}), train_x = torch::randn({8, 3, S, S});
  const auto train_y = torch::randint(0, 3, {8}, torch::kInt64);
  std::vector<int> counts = {1};
  if (cores > 1) counts.push_back(cores);
  double embed_base = 0, train_base = 0;
  std::printf("%-22s %14s %14s\n", "intra-op x BLAS", "embed img/s", "train img/s");
  for (int intra : counts)
    for (int pool : counts) {
      at::set_num_threads(intra);
      set_blas_threads(pool);
      model->eval();
      const double embed = seconds_per_call([&] {
        torch::NoGradGuard ng;
        model->forward(embed_x);
      }, 2, 3.0);
      model->train();
      const double train = seconds_per_call([&] {
        auto loss = torch::nn::functional::cross_entropy(model->forward(train_x), train_y);
        loss.backward();
        for (auto& p : model->parameters())
          if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
      }, 2, 3.0);
      if (embed_base == 0) embed_base = embed, train_base = train;
      std::printf("%2d x %-2d (BLAS reports %d) %9.2f (%.2fx) %9.2f (%.2fx)\n", intra, pool, blas_threads(), 4 / embed,
                  embed_base / embed, 8 / train, train_base / train);
    }
  return 0;
}
