// embed from images: the family's preprocessing, on real radiographs and DICOM.
#include <cmath>

#include <nlohmann/json.hpp>

#include "data/loader.hpp"
#include "io/safetensors_torch.hpp"
#include "models/backbone.hpp"
#include "train/config.hpp"
#include "train/run_model.hpp"
#include "models/embed.hpp"
#include "support.hpp"

using namespace osteofm;
using namespace osteofm::test;
using nlohmann::json;

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

TEST_CASE("preprocess: resize and centre crop equal Pillow's on non-square images (tests/data/geometry_golden.json)",
          "[embed]") {
  // Made by tests/reference/geometry_golden.py with Debian's Pillow on float images: the
  // long side truncated, crop fraction, floor and round-half-even crop offsets, upsampling
  // and squash. Tolerance: the 16-bit grid (7.6e-6) plus float32 rounding.
  const json golden = json::parse(read_text(source("tests/data/geometry_golden.json")));
  REQUIRE(golden["cases"].size() >= 7);
  for (const auto& c : golden["cases"]) {
    INFO(c["name"].get<std::string>());
    Preprocessing pre;
    pre.size = c["size"];
    pre.squash = c["fit"] == "squash";
    pre.crop_fraction = c["crop_fraction"];
    pre.crop_offset = c["crop_offset"];
    GrayImage img;
    img.height = c["height"];
    img.width = c["width"];
    img.pixels = c["input"].get<std::vector<float>>();
    const auto shape = pre.resized_shape(img.height, img.width);
    CHECK(shape[0] == c["resized"][0].get<int>());
    CHECK(shape[1] == c["resized"][1].get<int>());
    if (!pre.squash) {
      CHECK(pre.crop_start(shape[0]) == c["crop_start"][0].get<int>());
      CHECK(pre.crop_start(shape[1]) == c["crop_start"][1].get<int>());
    }
    const torch::Tensor out = resize_image(img, pre).flatten();
    const auto expected = torch::tensor(c["expected"].get<std::vector<float>>());
    REQUIRE(out.numel() == expected.numel());
    CHECK((out - expected).abs().max().item<double>() < 2e-5);
  }
}

TEST_CASE("preprocess: presets carry their upstream geometry, overrides and caches are checked", "[embed]") {
  BackbonePreset p;
  family_of_preset("dinov2-vitb14", &p);
  CHECK(p.preprocessing.size == 224);
  CHECK(p.preprocessing.resize_size() == 256);  // BitImageProcessor: 256 -> 224
  CHECK(p.preprocessing.crop_offset == "floor");
  family_of_preset("openclip-vitb16", &p);
  CHECK(p.preprocessing.resize_size() == 224);
  CHECK(p.preprocessing.crop_offset == "round");  // torchvision CenterCrop
  family_of_preset("rad-dino", &p);
  CHECK(p.preprocessing.resize_size() == 518);
  family_of_preset("chexagent-8b-vision", &p);
  CHECK(p.preprocessing.squash);
  family_of_preset("dinov2-tiny", &p);  // the phantom's whole field of view
  CHECK(p.preprocessing.resize_size() == p.preprocessing.size);

  // JSON round trip, and 518 at DINOv2's fraction: short side floor(518 / 0.875) = 592.
  Preprocessing pre;
  pre.size = 518;
  pre.crop_fraction = 0.875;
  CHECK(pre.resize_size() == 592);
  const Preprocessing back = preprocessing_from_json(preprocessing_to_json(pre), "x");
  CHECK(back.size == pre.size);
  CHECK(back.resize_size() == pre.resize_size());
  CHECK(back.same_field_of_view(pre));
  CHECK(back.crop_key() == "r592floor");
  CHECK(Preprocessing{}.crop_key().empty());  // the whole short side: cache keys as before
  CHECK(back.mean == pre.mean);
  CHECK(back.std == pre.std);
  CHECK(preprocessing_to_json(pre)["resize"] == 592);
  CHECK_THROWS_WITH(preprocessing_from_json(json{{"size", 224}}, "RUN/preprocessing.json"),
                    Catch::Contains("RUN/preprocessing.json") && Catch::Contains("fit"));

  // A run older than preprocessing.json is read with the whole short side cropped, as every
  // preset did then, not with today's DINOv2 0.875 (which would move its field of view).
  TempDir run;
  family_of_preset("dinov2-vitb14", &p);
  const Preprocessing legacy = run_preprocessing(run.path, p.preprocessing);
  CHECK(legacy.crop_fraction == 1.0);
  CHECK(legacy.resize_size() == 224);
  write_text(run / "preprocessing.json", preprocessing_to_json(p.preprocessing).dump());
  CHECK(run_preprocessing(run.path, p.preprocessing).resize_size() == 256);

  // backbone.image_size must be a multiple of the patch; crop fractions need a crop.
  json config = default_train_config();
  config["backbone"]["preset"] = "dinov2-tiny";
  config["backbone"]["image_size"] = 126;
  BuiltClassifier b = build_classifier(typed_run_config(config));
  CHECK(b.backbone.preset.preprocessing.size == 126);
  config["backbone"]["image_size"] = 120;
  CHECK_THROWS_WITH(build_classifier(typed_run_config(config)), Catch::Contains("backbone.image_size = 120") &&
                                                   Catch::Contains("patch size 14") && Catch::Contains("112 or 126"));
  config["backbone"]["image_size"] = 0;
  config["backbone"]["preset"] = "chexagent-tiny";
  config["backbone"]["crop_fraction"] = 0.875;
  CHECK_THROWS_WITH(build_classifier(typed_run_config(config)), Catch::Contains("backbone.crop_fraction"));

  // A cache of another field of view, or fewer pixels, is refused; a larger one is resized.
  Preprocessing model;
  model.size = 224;
  model.crop_fraction = 0.875;
  Preprocessing cache = model;
  CHECK(cache_geometry_problem(cache, model).empty());
  cache.size = 448;
  CHECK(cache_geometry_problem(cache, model).empty());
  cache.crop_fraction = 1.0;
  CHECK_THAT(cache_geometry_problem(cache, model), Catch::Contains("another field of view"));
  cache = model;
  cache.size = 112;
  CHECK_THAT(cache_geometry_problem(cache, model), Catch::Contains("upsampling"));
  cache = model;
  cache.squash = true;
  CHECK_THAT(cache_geometry_problem(cache, model), Catch::Contains("squash"));
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
