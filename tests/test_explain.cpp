// Explainability: Grad-CAM against pytorch-grad-cam's output (fixture gradcam_dinov2_A,
// through `osteofm gradcam`, the user's path), IoU and occlusion on known masks.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "explain/gradcam.hpp"
#include "io/safetensors_torch.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

TEST_CASE("gradcam: cam, cam_grid and logits match pytorch-grad-cam within the fixture tolerance", "[explain][parity]") {
  const fs::path dir = shared("fixtures/parity");
  const json fx = json::parse(read_text((dir / "gradcam_dinov2_A.json").string()));
  TempDir tmp;
  write_text(tmp / "arch.json", fx.at("arch_json").dump());
  // Both fixture inputs in one batch: the second is the fixture's image, the first checks
  // that batching does not mix images.
  const CliResult r = run_osteofm("gradcam --backbone dinov2-vitb14 --arch '" + (tmp / "arch.json") + "' --weights '" +
                                  (dir / "dinov2_hub_noreg_A.safetensors").string() + "' --head '" +
                                  (dir / "gradcam_dinov2_A.safetensors").string() + "' --tensor '" +
                                  (dir / "inputs.safetensors").string() + ":pixel_values_224_imagenet' --class 2 --batch 2 --out '" +
                                  (tmp / "cam.safetensors") + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto got = load_safetensors(tmp / "cam.safetensors");
  auto expected = load_safetensors((dir / "gradcam_dinov2_A.expected.safetensors").string());
  const auto& tol = fx.at("tolerance").at("per_output");
  for (const std::string key : {"cam", "cam_grid", "logits"}) {
    const auto y = got.at(key).slice(0, 1, 2);
    const auto e = expected.at(key);
    REQUIRE(y.sizes() == e.sizes());
    const double diff = (y - e).abs().max().item<double>();
    const double allowed = tol.at(key).at("max_abs_diff").get<double>();
    INFO(key << ": max abs diff " << diff << ", allowed " << allowed);
    CHECK(diff <= allowed);
  }
  // The first image alone gives the same CAM as inside the batch.
  const CliResult one = run_osteofm("gradcam --backbone dinov2-vitb14 --arch '" + (tmp / "arch.json") + "' --weights '" +
                                    (dir / "dinov2_hub_noreg_A.safetensors").string() + "' --head '" +
                                    (dir / "gradcam_dinov2_A.safetensors").string() + "' --tensor '" +
                                    (dir / "inputs.safetensors").string() +
                                    ":pixel_values_224_imagenet' --class 2 --batch 1 --out '" + (tmp / "one.safetensors") + "'");
  REQUIRE(one.code == 0);
  auto single = load_safetensors(tmp / "one.safetensors");
  CHECK((single.at("cam") - got.at("cam")).abs().max().item<double>() < 1e-5);
  // A wrong target class is a different map (the test can fail).
  const CliResult other = run_osteofm("gradcam --backbone dinov2-vitb14 --arch '" + (tmp / "arch.json") + "' --weights '" +
                                      (dir / "dinov2_hub_noreg_A.safetensors").string() + "' --head '" +
                                      (dir / "gradcam_dinov2_A.safetensors").string() + "' --tensor '" +
                                      (dir / "inputs.safetensors").string() +
                                      ":pixel_values_224_imagenet' --class 0 --out '" + (tmp / "c0.safetensors") + "'");
  REQUIRE(other.code == 0);
  CHECK((load_safetensors(tmp / "c0.safetensors").at("cam").slice(0, 1, 2) - expected.at("cam")).abs().max().item<double>() >
        0.05);
  // Bad input: a head of the wrong width names the tensor, exit 2.
  save_safetensors(tmp / "bad_head.safetensors", {{"head.weight", torch::zeros({3, 7})}, {"head.bias", torch::zeros({3})}});
  const CliResult bad = run_osteofm("gradcam --backbone dinov2-vitb14 --arch '" + (tmp / "arch.json") + "' --weights '" +
                                    (dir / "dinov2_hub_noreg_A.safetensors").string() + "' --head '" +
                                    (tmp / "bad_head.safetensors") + "' --tensor '" + (dir / "inputs.safetensors").string() +
                                    ":pixel_values_224_imagenet' --class 2 --out '" + (tmp / "x.safetensors") + "'");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("head.weight") != std::string::npos);
}
