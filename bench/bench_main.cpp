// osteofm_bench: throughput figures for the notes (scripts/bench.sh runs it).
// Each figure is reported beside a baseline measured in the same run.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "bench_timing.hpp"

#include "core/atomic_file.hpp"
#include "core/parallel.hpp"
#include "core/runtime.hpp"
#include "core/random.hpp"
#include "eval/bootstrap.hpp"
#include "eval/compare.hpp"
#include "eval/delong.hpp"
#include "eval/evaluate.hpp"
#include "models/embed.hpp"
#include "data/phantom.hpp"
#include "tuning/strategy.hpp"
#include "train/adamw.hpp"
#include <sys/resource.h>
#include <nlohmann/json.hpp>
#include "io/image.hpp"
#include "io/safetensors_torch.hpp"
#include "data/tensor_cache.hpp"
#include "explain/explain.hpp"
#include "explain/gradcam.hpp"
#include "explain/rollout.hpp"
#include "io/manifest.hpp"
#include "models/checkpoint.hpp"
#include "data/loader.hpp"

using namespace osteofm;
using osteofm::bench::seconds_per_call;
namespace fs = std::filesystem;


int main(int argc, char** argv) {
  set_threads(0);
  set_image_io_threads(resolve_threads(0));
  const std::string shared = argc > 1 ? argv[1] : (std::getenv("OSTEOFM_SHARED") ? std::getenv("OSTEOFM_SHARED") : "../shared");
  const std::string tmp = (fs::temp_directory_path() / "osteofm_bench").string();
  fs::create_directories(tmp);

  // parallel_for's kept pool against a thread started and joined per helper and call (what
  // parallel_for did before), on loops as small as a batch decode's: 16 items, 4 workers.
  {
    auto spawn_per_call = [](size_t n, int workers, const std::function<void(size_t, int)>& body) {
      std::atomic<size_t> next{0};
      auto work = [&](int t) {
        for (size_t i = next++; i < n; i = next++) body(i, t);
      };
      std::vector<std::thread> threads;
      for (int t = 1; t < workers; ++t) threads.emplace_back(work, t);
      work(0);
      for (auto& th : threads) th.join();
    };
    std::atomic<long> sink{0};
    auto item = [&](size_t i, int) { sink += static_cast<long>(i); };
    const double spawned = seconds_per_call([&] { for (int c = 0; c < 200; ++c) spawn_per_call(16, 4, item); }, 5, 0.5);
    const double pooled = seconds_per_call([&] { for (int c = 0; c < 200; ++c) parallel_for(16, 4, item); }, 5, 0.5);
    std::printf("parallel_for, 200 loops of 16 items on 4 workers: pool %.2f ms, a thread per helper and call %.2f ms = %.1fx\n",
                pooled * 1e3, spawned * 1e3, spawned / pooled);
  }

  // Bootstrap: 2,000 replicates of every metric (macro AUC included) at n = 4,200,
  // against the usual Python loop over sklearn (bench/bootstrap_sklearn.py) when the
  // baseline's seconds are passed as the second argument.
  {
    const std::string fixture = shared + "/fixtures/stats/realistic_n4200.json";
    if (fs::exists(fixture)) {
      const auto c = nlohmann::json::parse(read_file(fixture));
      ScoredSet s;
      s.label = c["inputs"]["y_true"].get<std::vector<int>>();
      for (const auto& r : c["inputs"]["y_score"]) s.score.push_back({r[0], r[1], r[2]});
      MetricEngine engine(s);
      for (int threads : {1, 0}) {
        BootstrapOptions bo;
        bo.replicates = 2000;
        bo.threads = threads;
        BootstrapResult res;
        const double sec = seconds_per_call([&] { res = bootstrap(engine, {}, 0, bo); }, 5, 1.0);
        std::printf("bootstrap n=4200, 2000 replicates, all 12 metrics, %s: %.4f s  macro AUC CI [%.4f, %.4f]",
                    threads == 1 ? "1 thread " : "all cores", sec, res.percentile[kAucMacro].lower,
                    res.percentile[kAucMacro].upper);
        if (argc > 2) std::printf("  (%.0fx faster than the sklearn loop's %.2f s)", std::atof(argv[2]) / sec, std::atof(argv[2]));
        std::printf("\n");
      }
    }
  }

  // eval: everything metrics.json holds (12 metrics, both endpoints, three validation-chosen
  // thresholds, calibration, decision curve, kappa) with 2,000 patient-clustered replicates
  // at n = 4,200 (2,900 patients), against the 12-metric clustered bootstrap alone (what
  // eval computed before the screening endpoints) in the same run. Then compare over twelve
  // models on the same images (66 pairs).
  {
    const std::string fixture = shared + "/fixtures/stats/realistic_n4200.json";
    const std::string val_fixture = shared + "/fixtures/screening/realistic_v800_t1200.json";
    if (fs::exists(fixture) && fs::exists(val_fixture)) {
      const auto c = nlohmann::json::parse(read_file(fixture));
      const auto v = nlohmann::json::parse(read_file(val_fixture))["inputs"]["val"];
      Predictions test, val;
      const size_t n = c["inputs"]["y_true"].size();
      for (size_t i = 0; i < n; ++i) {
        test.image_id.push_back("t" + std::to_string(i));
        test.patient_id.push_back("P" + std::to_string(i * 2900 / n));
        test.scored.label.push_back(c["inputs"]["y_true"][i].get<int>());
        const auto& r = c["inputs"]["y_score"][i];
        test.scored.score.push_back({r[0], r[1], r[2]});
      }
      for (size_t i = 0; i < v["y_true"].size(); ++i) {
        val.image_id.push_back("v" + std::to_string(i));
        val.patient_id.push_back(v["patient_id"][i].get<std::string>());
        val.scored.label.push_back(v["y_true"][i].get<int>());
        const auto& r = v["y_score"][i];
        val.scored.score.push_back({r[0], r[1], r[2]});
      }
      size_t units = 0;
      const auto clusters = cluster_index(test.patient_id, &units);
      MetricEngine engine(test.scored);
      BootstrapOptions bo;
      bo.replicates = 2000;
      // The baseline: what eval computed before the screening endpoints (the 12-metric
      // clustered bootstrap and DeLong per class).
      const double base = seconds_per_call(
          [&] {
            bootstrap(engine, clusters, units, bo);
            for (int k = 0; k < kNumClasses; ++k)
              delong(class_scores(test.scored, k), class_positives(test.scored.label, k), 0.95, "bench");
          },
          3, 1.0);
      EvalOptions eo;
      const double full = seconds_per_call([&] { evaluate(test, &val, eo); }, 3, 1.0);
      std::printf("eval n=4200 (2900 patients), 2000 clustered replicates: 12 metrics + DeLong (before) %.3f s; everything "
                  "(endpoints, thresholds, calibration, DCA, kappa) %.3f s = %.2fx\n", base, full, full / base);
      std::vector<ModelPredictions> models;
      for (int m = 0; m < 12; ++m) {
        ModelPredictions mp{"model" + std::to_string(m), test, val};
        SplitMix64 rng(100 + m);
        for (auto& row : mp.test.scored.score) {  // each model: the scores with its own noise
          double sum = 0;
          for (double& p : row) sum += (p = p * (0.5 + (rng.next() >> 11) * 0x1.0p-53));
          for (double& p : row) p /= sum;
        }
        models.push_back(std::move(mp));
      }
      CompareOptions co;
      const double cmp = seconds_per_call([&] { compare_models(models, co); }, 1, 0.0);
      std::printf("compare 12 models, n=4200, 66 pairs, 2000 clustered replicates: %.2f s\n", cmp);
    }
  }
  if (argc > 3 && std::string(argv[3]) == "--eval-only") return 0;

  // embed: dinov2-vitb14 with random weights, batch 8, at 224 and 518 (CPU, fp32).
  if (argc <= 3 || std::string(argv[3]) != "--no-embed") {
    Backbone b = load_backbone({"dinov2-vitb14", "", "", 1});
    for (int size : {224, 518}) {
      struct rusage before {}, after {};
      getrusage(RUSAGE_SELF, &before);
      auto x = torch::randn({8, 3, size, size});
      EmbedOptions eo;
      eo.device = "cpu";
      const double s = seconds_per_call([&] { embed_tensor(b, x, eo); }, 1, 0.0);
      getrusage(RUSAGE_SELF, &after);
      std::printf("embed dinov2-vitb14 random, CPU fp32, %d px, batch 8: %.2f images/s (%.2f s/batch), peak RSS %.0f MB\n",
                  size, 8 / s, s, after.ru_maxrss / 1024.0);
    }
  }

  // Training step per strategy (dinov2-tiny, 112 px, batch 32, CPU fp32), and the linear
  // probe's feature cache against recomputing the frozen features every epoch.
  {
    for (const char* name : {"linear_probe", "partial", "lora"}) {
      Backbone b = load_backbone({"dinov2-tiny", "", "", 1});
      Classifier m(b.vit, HeadOptions{});
      nlohmann::json sc = {{"name", name}};
      if (std::string(name) == "partial") sc["blocks"] = 2;
      make_strategy(sc)->apply(m);
      std::vector<AdamWGroup> g(1);
      for (const auto& item : m->named_parameters())
        if (item.value().requires_grad()) g[0].params.emplace_back(item.key(), item.value());
      AdamW opt(g);
      auto x = torch::randn({32, 3, 112, 112});
      auto y = torch::randint(0, 3, {32}, torch::kInt64);
      m->train();
      const double s = seconds_per_call([&] {
        auto loss = torch::nn::functional::cross_entropy(m->forward(x), y);
        loss.backward();
        opt.step();
        opt.zero_grad();
      }, 5, 1.0);
      struct rusage ru {};
      getrusage(RUSAGE_SELF, &ru);
      std::printf("train step %-12s dinov2-tiny 112 px batch 32: %.0f images/s, %lld trainable params (peak RSS so far %.0f MB)\n",
                  name, 32 / s, static_cast<long long>(trainable_parameter_count(*m)), ru.ru_maxrss / 1024.0);
    }
    Backbone b = load_backbone({"dinov2-tiny", "", "", 1});
    Classifier m(b.vit, HeadOptions{});
    make_strategy({{"name", "linear_probe"}})->apply(m);
    auto images = torch::randn({512, 3, 112, 112});
    auto y = torch::randint(0, 3, {512}, torch::kInt64);
    torch::Tensor feats;
    {
      torch::NoGradGuard ng;
      m->eval();
      feats = m->features(images);
    }
    auto head_epoch = [&](const torch::Tensor& f) {
      for (int64_t i = 0; i < 512; i += 32) {
        auto loss = torch::nn::functional::cross_entropy(m->head_logits(f.slice(0, i, i + 32)), y.slice(0, i, i + 32));
        loss.backward();
      }
    };
    const double cached = seconds_per_call([&] { head_epoch(feats); }, 5, 0.5);
    const double recomputed = seconds_per_call([&] {
      torch::Tensor f;
      {
        torch::NoGradGuard ng;
        f = m->features(images);
      }
      head_epoch(f);
    }, 2, 0.5);
    std::printf("linear probe epoch of 512 images: cached features %.4f s, recomputed %.3f s (cache %.0fx faster)\n",
                cached, recomputed, recomputed / cached);
  }

  // synth: the phantom cohort at 512 px, all cores, against the 50 images/s.
  {
    PhantomOptions po;
    po.patients = 150;
    const auto sum = write_phantom_cohort(tmp + "/phantom", po);
    std::printf("synth 512 px: %zu images in %.2f s = %.0f images/s (%.2fx the 50 images/s target)\n", sum.images,
                sum.seconds, sum.images / sum.seconds, sum.images / sum.seconds / 50.0);
  }

  // Safetensors: mmap zero-copy load vs reading the same bytes into fresh tensors.
  {
    std::map<std::string, torch::Tensor> w;
    for (int i = 0; i < 12; ++i) w["blocks." + std::to_string(i) + ".weight"] = torch::randn({768, 3072});
    const std::string path = tmp + "/weights.safetensors";
    save_safetensors(path, w);
    const double zero_copy = seconds_per_call([&] {
      auto t = load_safetensors(path);
      volatile float x = t.begin()->second.data_ptr<float>()[0];
      (void)x;
    });
    const double copied = seconds_per_call([&] {
      auto t = load_safetensors(path);
      for (auto& kv : t) kv.second = kv.second.clone();
    });
    const double mb = fs::file_size(path) / 1e6;
    std::printf("safetensors load %.0f MB: mmap %.2f ms, with copy %.2f ms (copy/mmap %.1fx)\n", mb, zero_copy * 1e3,
                copied * 1e3, copied / zero_copy);
  }
#if OSTEOFM_WITH_IMAGE_IO
  // Decoding: 8-bit PNG vs DICOM (JPEG lossless, RLE, JPEG 2000) per image.
  const std::string cxr = shared + "/data/public-cxr";
  const std::vector<std::string> files = {
      "nih-chestxray14/00000001_000.png", "dicom/nema-wg04/RG2_JPLL.dcm", "dicom/nema-wg04/RG2_RLE.dcm",
      "dicom/nema-wg04/RG1_J2KI.dcm"};
  double png_s = 0;
  for (const auto& f : files) {
    const std::string p = cxr + "/" + f;
    if (!fs::exists(p)) continue;
    GrayImage img;
    const double s = seconds_per_call([&] { img = read_image(p); }, 3, 0.3);
    if (png_s == 0) png_s = s;
    std::printf("decode %-34s %5dx%-5d %8.1f ms  %6.1f Mpx/s  (%.1fx the PNG time)\n", f.c_str(), img.width, img.height,
                s * 1e3, img.width * double(img.height) / s / 1e6, s / png_s);
  }

  // Loader: a split read from a tensor cache vs decoded from the PNGs of its manifest
  // (512 px phantom -> 224 px model input), all cores; and cache size per 1,000 images.
  {
    const std::string cohort = tmp + "/loader_cohort";
    if (!fs::exists(cohort + "/manifest.csv")) {
      PhantomOptions po;
      po.patients = 150;
      po.size = 512;
      po.seed = 11;
      write_phantom_cohort(cohort, po);
    }
    Manifest m = load_manifest(cohort + "/manifest.csv");
    Preprocessing pre;
    pre.size = 224;
    for (int size : {224, 518}) {
      const std::string dir = tmp + "/loader_cache_" + std::to_string(size);
      fs::remove_all(dir);  // a cache left by an earlier run would resume, not build
      CacheOptions co;
      co.size = size;
      const auto t0 = std::chrono::steady_clock::now();
      build_tensor_cache(cohort + "/manifest.csv", dir, co);
      const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      uintmax_t bytes = 0;
      for (const auto& e : fs::directory_iterator(dir)) bytes += fs::file_size(e.path());
      std::printf("cache %d px: %.1f MB per 1,000 images (images U16 + masks U8), built at %.0f images/s\n", size,
                  bytes / 1e6 * 1000.0 / m.rows.size(), m.rows.size() / build_s);
    }
    Manifest cached = load_manifest(tmp + "/loader_cache_224");
    const SplitData from_png = load_split(m, "train", pre, hardware_threads(), "no");
    const SplitData from_cache = load_split(cached, "train", pre, hardware_threads(), "no");
    const int64_t n = from_png.size();
    const double png_s = seconds_per_call([&] { for (int64_t b = 0; b < n; b += 32) from_png.range(b, std::min(n, b + 32)); }, 1, 0.5);
    const double cache_s = seconds_per_call([&] { for (int64_t b = 0; b < n; b += 32) from_cache.range(b, std::min(n, b + 32)); }, 3, 0.5);
    std::printf("loader 224 px, %lld images: PNG decode + resize %.0f images/s, tensor cache %.0f images/s (%.1fx)\n",
                static_cast<long long>(n), n / png_s, n / cache_s, png_s / cache_s);
  }
#endif

  // Grad-CAM throughput on CPU: a tiny preset at its demo size and dinov2-vitb14 at 224.
  for (const std::string preset : {"dinov2-tiny", "dinov2-vitb14"}) {
    Backbone b = load_backbone({preset, "", "", 1});
    Classifier model(b.vit, HeadOptions{});
    model->eval();
    const int S = b.preset.preprocessing.size, B = preset == "dinov2-tiny" ? 16 : 4;
    const auto x = torch::randn({B, 3, S, S});
    const std::vector<int64_t> target(B, 2);
    const double gc = seconds_per_call([&] { grad_cam(model, x, target); }, 2, 1.0);
    const double fwd = seconds_per_call([&] { torch::NoGradGuard ng; model->forward(x); }, 2, 1.0);
    std::printf("grad-cam %-14s %d px batch %d: %.1f images/s (forward alone %.1f images/s, %.2fx)\n", preset.c_str(), S,
                B, B / gc, B / fwd, gc / fwd);
    // Attention rollout: one forward pass that keeps every block's attention, no gradient.
    const double ro = seconds_per_call([&] { attention_rollout(model, x, target); }, 2, 1.0);
    std::printf("rollout  %-14s %d px batch %d: %.1f images/s (%.2fx Grad-CAM's time)\n", preset.c_str(), S, B, B / ro,
                ro / gc);
    // Occlusion maps cost one forward pass per grid cell: measured on the tiny preset only
    // (dinov2-vitb14 at 224 px is 256 passes per image, minutes per batch on 2 cores).
    if (preset == "dinov2-tiny") {
      const auto gray = torch::rand({B, 1, S, S});
      const double oc = seconds_per_call([&] { occlusion_cam(model, gray, b.preset.preprocessing, target, 0.35, ExplainOptions{}.occlusion_floor); }, 1, 1.0);
      const int64_t cells = (S / b.vit->arch.patch_size) * (S / b.vit->arch.patch_size);
      std::printf("occlusion %-13s %d px batch %d, %lld cells: %.1f images/s (%.1fx Grad-CAM's time)\n", preset.c_str(), S,
                  B, static_cast<long long>(cells), B / oc, oc / gc);
    }
  }
  return 0;
}
