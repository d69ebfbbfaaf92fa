// embed from images: the family's preprocessing, on real radiographs and DICOM.
#include <cmath>

#include "io/safetensors_torch.hpp"
#include "models/embed.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;

TEST_CASE("preprocess: short side + centre crop, grey to RGB, family statistics", "[embed]") {
  GrayImage img;
  img.width = 200;
  img.height = 100;
  for (int y = 0; y < 100; ++y)
    for (int x = 0; x < 200; ++x) img.pixels.push_back(x < 100 ? 0.0f : 1.0f);
  Preprocessing pre;  // ImageNet statistics
  pre.size = 50;      // 100x200 -> 50x100 -> centre crop columns 25..74
  torch::Tensor t = preprocess_image(img, pre);
  REQUIRE(t.sizes() == torch::IntArrayRef({3, 50, 50}));
  for (int c = 0; c < 3; ++c) {
    CHECK(t[c][10][3].item<double>() == Approx((0.0 - pre.mean[c]) / pre.std[c]).margin(1e-5));
    CHECK(t[c][10][46].item<double>() == Approx((1.0 - pre.mean[c]) / pre.std[c]).margin(1e-5));
  }
  pre.squash = true;  // the whole width survives: the edge sits in the middle
  t = preprocess_image(img, pre);
  CHECK(t[0][10][10].item<double>() == Approx((0.0 - pre.mean[0]) / pre.std[0]).margin(1e-5));
  CHECK(t[0][10][40].item<double>() == Approx((1.0 - pre.mean[0]) / pre.std[0]).margin(1e-5));
}

TEST_CASE("embed: a manifest of real PNG, JPEG and DICOM radiographs", "[embed][cli][image_io]") {
  TempDir dir;
  const std::string root = shared("data/public-cxr");
  write_text(dir / "m.csv", "image_id,patient_id,path,t_score\n"
                            "a,P1," + root + "/nih-chestxray14/torchxrayvision-512/00000001_000.png,-1\n"
                            "b,P2," + root + "/covid-chestxray-dataset/images/2168a917.jpg,-2\n"
                            "c,P3," + root + "/dicom/classic-samples/CR-MONO1-10-chest.dcm,-3\n");
  for (const std::string preset : {"dinov2-tiny", "openclip-tiny", "chexagent-tiny", "rad-dino-tiny"}) {
    INFO(preset);
    const std::string out = dir / (preset + ".safetensors");
    CliResult r = run_osteofm("embed --backbone " + preset + " --manifest '" + (dir / "m.csv") + "' --out '" + out + "'");
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto e = load_safetensors(out);
    CHECK(e.at("cls").size(0) == 3);
    CHECK(e.at("patch_tokens").size(1) == 64);  // 8x8 grid for every tiny preset
    CHECK(torch::isfinite(e.at("pooled")).all().item<bool>());
    // Different radiographs, different features.
    CHECK((e.at("cls")[0] - e.at("cls")[1]).abs().max().item<double>() > 1e-4);
  }
  // An unreadable image names the manifest row.
  write_text(dir / "bad.csv", "image_id,patient_id,path,t_score\na,P1,missing.png,-1\n");
  CliResult bad = run_osteofm("embed --backbone dinov2-tiny --manifest '" + (dir / "bad.csv") + "' --out '" + (dir / "x.safetensors") + "'");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("bad.csv:2: row 1: ") && Catch::Contains("missing.png: no such file"));
}
