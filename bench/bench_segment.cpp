// Segmentation throughput of `osteofm data segment` with a PSPNet-sized TorchScript module:
// a ResNet-50-shaped bottleneck trunk at output stride 8 (layers 3 and 4 dilated, as PSPNet
// runs it), the pyramid pooling module (bins 1, 2, 3, 6) and a 3x3 head, 14 output channels
// (the ChestX-Det structures), random weights. The module is written here with LibTorch's
// TorchScript compiler (Module::define) and saved, so no Python is needed; its FLOPs are
// counted from the layer list. Runs the real CLI pipeline (decode, resize, model, upsampled
// masks, QC records) on real radiographs and prints one JSON line per batch size with the
// split of the time, so decode + resize can be seen not to be the bottleneck.
//
//   osteofm_bench_segment SHARED_DIR [--size 512] [--images 8] [--batches 1,4] [--device cpu] [--model-only 1]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include "core/atomic_file.hpp"
#include "core/runtime.hpp"
#include "io/image.hpp"
#include "models/segment_manifest.hpp"

using namespace osteofm;
namespace fs = std::filesystem;

namespace {

struct ModuleBuilder {
  torch::jit::Module module{"PspLike"};
  std::string code = "def forward(self, x):\n";
  int params = 0;
  double flops = 0;  // multiply-adds x 2, at the module's input size
  int64_t side;      // current feature side
  explicit ModuleBuilder(int64_t input) : side(input) {}

  std::string conv(const std::string& in, int64_t cin, int64_t cout, int k, int stride = 1, int dilation = 1,
                   bool relu = true) {
    const std::string w = "w" + std::to_string(params++);
    module.register_parameter(w, torch::randn({cout, cin, k, k}) * std::sqrt(2.0 / (cin * k * k)), false);
    const int pad = dilation * (k / 2);
    side = (side + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
    flops += 2.0 * cout * cin * k * k * side * side;
    const std::string out = "h" + std::to_string(params);
    code += "    " + out + " = torch.conv2d(" + in + ", self." + w + ", None, [" + std::to_string(stride) + ", " +
            std::to_string(stride) + "], [" + std::to_string(pad) + ", " + std::to_string(pad) + "], [" +
            std::to_string(dilation) + ", " + std::to_string(dilation) + "])\n";
    if (relu) code += "    " + out + " = torch.relu(" + out + ")\n";
    return out;
  }
  std::string bottleneck(const std::string& in, int64_t cin, int64_t mid, int64_t cout, int stride, int dilation) {
    std::string h = conv(in, cin, mid, 1);
    h = conv(h, mid, mid, 3, stride, dilation);
    return conv(h, mid, cout, 1, 1, 1, false);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SHARED_DIR [--size 512] [--images 8] [--batches 1,4] [--device cpu]\n", argv[0]);
    return 2;
  }
  const std::string shared = argv[1];
  int size = 512, images = 8;
  std::string device = "cpu", batches = "1,4";
  bool model_only = !image_io_available();  // a build without image I/O times the module alone
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--size") size = std::stoi(v);
    else if (k == "--images") images = std::stoi(v);
    else if (k == "--batches") batches = v;
    else if (k == "--device") device = v;
    else if (k == "--model-only") model_only = v == "1";
  }
  set_threads(0);
  torch::manual_seed(1);
  const fs::path dir = fs::temp_directory_path() / ("osteofm_bench_segment_" + std::to_string(::getpid()));
  fs::create_directories(dir);

  // The module.
  ModuleBuilder b(size);
  std::string h = b.conv("x", 3, 64, 7, 2);
  b.code += "    " + h + " = torch.max_pool2d(" + h + ", [3, 3], [2, 2], [1, 1])\n";
  b.side = (b.side + 1) / 2;
  int64_t c = 64;
  const struct { int blocks; int64_t mid, out; int stride, dilation; } stages[] = {
      {3, 64, 256, 1, 1}, {4, 128, 512, 2, 1}, {6, 256, 1024, 1, 2}, {3, 512, 2048, 1, 4}};
  for (const auto& s : stages)
    for (int k = 0; k < s.blocks; ++k) {
      h = b.bottleneck(h, c, s.mid, s.out, k == 0 ? s.stride : 1, s.dilation);
      c = s.out;
    }
  const int64_t trunk_side = b.side;
  std::string pyramid = "[" + h;
  for (int bins : {1, 2, 3, 6}) {
    const std::string pooled = "p" + std::to_string(bins);
    b.code += "    " + pooled + " = torch.adaptive_avg_pool2d(" + h + ", [" + std::to_string(bins) + ", " +
              std::to_string(bins) + "])\n";
    b.side = bins;
    const std::string reduced = b.conv(pooled, 2048, 512, 1);
    b.code += "    " + reduced + " = torch.upsample_bilinear2d(" + reduced + ", [" + std::to_string(trunk_side) + ", " +
              std::to_string(trunk_side) + "], False)\n";
    pyramid += ", " + reduced;
  }
  b.side = trunk_side;
  b.code += "    cat = torch.cat(" + pyramid + "], 1)\n";
  h = b.conv("cat", 4096, 512, 3);
  h = b.conv(h, 512, 14, 1, 1, 1, false);
  b.code += "    return torch.upsample_bilinear2d(" + h + ", [" + std::to_string(size) + ", " + std::to_string(size) +
            "], False)\n";
  b.module.define(b.code);
  const std::string model = (dir / "psp_like.pt").string();
  b.module.save(model);
  const char* names[] = {"Left Clavicle", "Right Clavicle", "Left Scapula", "Right Scapula", "Left Lung", "Right Lung",
                         "Left Hilus Pulmonis", "Right Hilus Pulmonis", "Heart", "Aorta", "Facies Diaphragmatica",
                         "Mediastinum", "Weasand", "Spine"};
  nlohmann::json channels = nlohmann::json::array();
  for (const char* n : names) channels.push_back(n);
  const nlohmann::json spec = {
      {"format", "osteofm-segmenter/1"},
      {"input", {{"height", size}, {"width", size}, {"channels", 3}, {"mean", {0.5, 0.5, 0.5}}, {"std", {0.25, 0.25, 0.25}}}},
      {"output", {{"activation", "sigmoid"}, {"threshold", 0.5}, {"channels", channels}}},
      {"regions", {{"spine", {"Spine"}}, {"clavicles", {"Left Clavicle", "Right Clavicle"}},
                   {"scapulae", {"Left Scapula", "Right Scapula"}}, {"lungs", {"Left Lung", "Right Lung"}},
                   {"mediastinum", {"Mediastinum"}}}}};
  write_file_atomic((dir / "psp_like.json").string(), spec.dump(1));

  std::fprintf(stderr, "module: PSPNet-like (ResNet-50 trunk, output stride 8, PPM), %d params tensors, %.1f GFLOP per image at %d px\n",
               b.params, b.flops / 1e9, size);
  if (model_only) {
    // The module's forward alone, on zeros (no image decoding in this build or when asked).
    torch::jit::Module m = torch::jit::load(model, torch::Device(device));
    m.eval();
    torch::InferenceMode guard;
    for (size_t start = 0; start < batches.size();) {
      const size_t comma = batches.find(',', start);
      const int batch = std::stoi(batches.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      start = comma == std::string::npos ? batches.size() : comma + 1;
      const auto x = torch::zeros({batch, 3, size, size}, torch::Device(device));
      auto run = [&] {
        auto y = m.forward({x}).toTensor();
        (void)y.sum().item<float>();  // waits for the device
      };
      run();
      const auto t0 = std::chrono::steady_clock::now();
      const int reps = std::max(1, images / batch);
      for (int r = 0; r < reps; ++r) run();
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%s\n", nlohmann::json{{"bench", "segment_model"}, {"device", device}, {"size", size}, {"batch", batch},
                                         {"gflop_per_image", b.flops / 1e9}, {"images_per_s", reps * batch / secs}}
                                 .dump()
                                 .c_str());
      std::fflush(stdout);
    }
    fs::remove_all(dir);
    return 0;
  }
  // Real radiographs (their own sizes, 8- and 16-bit PNG and JPEG).
  std::vector<std::string> files;
  for (const char* sub : {"covid-chestxray-dataset/images", "nih-chestxray14", "hannover-covid19-repository/png"})
    for (const auto& e : fs::directory_iterator(fs::path(shared) / "data/public-cxr" / sub))
      if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  std::string csv = "image_id,patient_id,path,t_score\n";
  for (int i = 0; i < images; ++i)
    csv += "i" + std::to_string(i) + ",p" + std::to_string(i) + "," + files[static_cast<size_t>(i) % files.size()] + ",-1\n";
  write_file_atomic((dir / "m.csv").string(), csv);

  for (size_t start = 0; start < batches.size();) {
    const size_t comma = batches.find(',', start);
    const int batch = std::stoi(batches.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    start = comma == std::string::npos ? batches.size() : comma + 1;
    SegmentOptions o;
    o.manifest = (dir / "m.csv").string();
    o.model = model;
    o.out = (dir / ("out-" + std::to_string(batch))).string();
    o.device = device;
    o.batch = batch;
    o.pictures = false;
    const SegmentSummary s = segment_manifest(o);
    const double work = s.decode_seconds + s.model_seconds + s.post_seconds;
    std::printf("%s\n", nlohmann::json{{"bench", "segment"}, {"device", device}, {"size", size}, {"batch", batch},
                                       {"images", images}, {"gflop_per_image", b.flops / 1e9},
                                       {"images_per_s", images / s.seconds},
                                       {"decode_resize_s", s.decode_seconds}, {"model_s", s.model_seconds},
                                       {"masks_qc_records_s", s.post_seconds}, {"total_s", s.seconds},
                                       {"decode_share", s.decode_seconds / work}, {"model_share", s.model_seconds / work},
                                       {"threads", hardware_threads()}}
                                .dump()
                                .c_str());
    std::fflush(stdout);
  }
  fs::remove_all(dir);
  return 0;
}
