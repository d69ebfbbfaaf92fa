#include "models/segmenter.hpp"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include <torch/script.h>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/imgproc.hpp>
#endif

namespace osteofm {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;  // the spec's region order decides the new regions' bits

namespace {

[[noreturn]] void bad(const std::string& source, const std::string& key, const std::string& why) {
  throw InputError(source + ": " + key + ": " + why);
}

void only_keys(const ojson& j, const std::set<std::string>& allowed, const std::string& source, const std::string& where) {
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!allowed.count(it.key())) bad(source, where + it.key(), "unknown key (misspelt?)");
}

int positive_int(const ojson& j, const char* key, int most, const std::string& source, const std::string& where) {
  if (!j.contains(key)) bad(source, where + key, "missing");
  const ojson& v = j.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > most)
    bad(source, where + key, "must be an integer 1.." + std::to_string(most) + ", not " + v.dump());
  return v.get<int>();
}

std::vector<float> finite_list(const ojson& j, const char* key, size_t n, bool positive, const std::string& source) {
  const std::string where = std::string("input.") + key;
  if (!j.contains(key)) bad(source, where, "missing (one value per input channel)");
  const ojson& v = j.at(key);
  if (!v.is_array() || v.size() != n)
    bad(source, where, "must list " + std::to_string(n) + " numbers (input.channels), not " + v.dump());
  std::vector<float> out;
  for (const auto& x : v) {
    if (!x.is_number() || !std::isfinite(x.get<double>()) || (positive && !(x.get<double>() > 0)))
      bad(source, where, std::string("every value must be a finite") + (positive ? " positive" : "") + " number, not " + x.dump());
    out.push_back(x.get<float>());
  }
  return out;
}

}  // namespace

std::string default_spec_path(const std::string& model_path) {
  return fs::path(model_path).replace_extension(".json").string();
}

SegmenterSpec parse_segmenter_spec(const std::string& text, const std::string& source) {
  ojson j;
  try {
    j = ojson::parse(text);
  } catch (const std::exception& e) {
    throw InputError(source + ": not JSON (" + one_line(e.what()) + ")");
  }
  if (!j.is_object()) throw InputError(source + ": a segmenter spec must be a JSON object");
  only_keys(j, {"format", "input", "output", "regions", "bones", "qc", "name", "description", "source"}, source, "");
  if (j.value("format", "") != "osteofm-segmenter/1")
    bad(source, "format", "must be \"osteofm-segmenter/1\", not " + (j.contains("format") ? j.at("format").dump() : "missing"));
  SegmenterSpec s;
  s.source = source;
  s.text = text;

  if (!j.contains("input") || !j.at("input").is_object()) bad(source, "input", "missing or not an object");
  const ojson& in = j.at("input");
  only_keys(in, {"height", "width", "channels", "mean", "std"}, source, "input.");
  s.height = positive_int(in, "height", 8192, source, "input.");
  s.width = positive_int(in, "width", 8192, source, "input.");
  s.channels = positive_int(in, "channels", 64, source, "input.");
  s.mean = finite_list(in, "mean", static_cast<size_t>(s.channels), false, source);
  s.std = finite_list(in, "std", static_cast<size_t>(s.channels), true, source);

  if (!j.contains("output") || !j.at("output").is_object()) bad(source, "output", "missing or not an object");
  const ojson& out = j.at("output");
  only_keys(out, {"activation", "threshold", "channels"}, source, "output.");
  s.activation = out.contains("activation") && out.at("activation").is_string() ? out.at("activation").get<std::string>() : "";
  if (s.activation != "sigmoid" && s.activation != "softmax")
    bad(source, "output.activation", "must be \"sigmoid\" or \"softmax\", not " +
                                         (out.contains("activation") ? out.at("activation").dump() : "missing"));
  if (out.contains("threshold")) {
    const ojson& t = out.at("threshold");
    if (!t.is_number() || !(t.get<double>() > 0 && t.get<double>() < 1))
      bad(source, "output.threshold", "must be a number in (0, 1), not " + t.dump());
    s.threshold = t.get<float>();
  }
  if (!out.contains("channels") || !out.at("channels").is_array() || out.at("channels").empty())
    bad(source, "output.channels", "must list one name (or null for background) per output channel");
  std::set<std::string> names;
  for (const auto& c : out.at("channels")) {
    if (c.is_null()) {
      s.output_channels.push_back(std::nullopt);
      continue;
    }
    if (!c.is_string() || c.get<std::string>().empty()) bad(source, "output.channels", "entry " + c.dump() + " is not a name or null");
    if (!names.insert(c.get<std::string>()).second) bad(source, "output.channels", "'" + c.get<std::string>() + "' named twice");
    s.output_channels.emplace_back(c.get<std::string>());
  }
  if (names.empty()) bad(source, "output.channels", "names no channel (all null)");
  if (s.output_channels.size() > 4096) bad(source, "output.channels", "more than 4096 channels");

  if (!j.contains("regions") || !j.at("regions").is_object() || j.at("regions").empty())
    bad(source, "regions", "must map region names to lists of output channel names");
  const ojson& regions = j.at("regions");
  if (regions.size() > 8)
    bad(source, "regions", std::to_string(regions.size()) + " regions; a mask holds 8 bits, so at most 8");
  std::vector<std::string> bones;
  if (j.contains("bones")) {
    if (!j.at("bones").is_array()) bad(source, "bones", "must be a list of region names");
    for (const auto& b : j.at("bones")) {
      if (!b.is_string() || !regions.contains(b.get<std::string>()))
        bad(source, "bones", "entry " + b.dump() + " is not a region of 'regions'");
      bones.push_back(b.get<std::string>());
    }
  }
  // Bits (fixture README): the default table's bit for its names, else the lowest bit that
  // table does not use (64, then 128), in the spec's order.
  const RegionTable defaults = default_region_table();
  uint8_t reserved = 0;
  for (const auto& r : defaults.regions) reserved |= r.bits;
  uint8_t used = 0;
  for (auto it = regions.begin(); it != regions.end(); ++it) {
    const std::string& name = it.key();
    if (name.empty()) bad(source, "regions", "a region has an empty name");
    if (!it.value().is_array() || it.value().empty())
      bad(source, "regions." + name, "must be a non-empty list of output channel names");
    SegmenterSpec::RegionChannels rc{name, {}};
    for (const auto& c : it.value()) {
      if (!c.is_string()) bad(source, "regions." + name, "entry " + c.dump() + " is not a channel name");
      int index = -1;
      for (size_t k = 0; k < s.output_channels.size(); ++k)
        if (s.output_channels[k] && *s.output_channels[k] == c.get<std::string>()) index = static_cast<int>(k);
      if (index < 0) bad(source, "regions." + name, "'" + c.get<std::string>() + "' is not a channel of output.channels");
      rc.channels.push_back(index);
    }
    Region region{name, 0, false};
    for (const auto& d : defaults.regions)
      if (d.name == name) region = d;
    if (region.bits == 0) {
      for (int b = 1; b <= 128 && region.bits == 0; b <<= 1)
        if (!(reserved & b) && !(used & b)) region.bits = static_cast<uint8_t>(b);
      if (region.bits == 0)
        bad(source, "regions." + name, "no bit left: names outside design.md's table (spine, ribs, clavicles, scapulae, "
                                       "humeri, lungs) share bits 64 and 128, so at most two of them");
      region.bone = false;  // a new name is a control unless listed in "bones"
    }
    if (std::find(bones.begin(), bones.end(), name) != bones.end()) region.bone = true;
    used |= region.bits;
    s.table.regions.push_back(region);
    s.regions.push_back(rc);
  }
  if (j.contains("qc")) {
    const ojson& qc = j.at("qc");
    if (!qc.is_object()) bad(source, "qc", "must be an object");
    only_keys(qc, {"may_touch_border"}, source, "qc.");
    if (qc.contains("may_touch_border")) {
      if (!qc.at("may_touch_border").is_array()) bad(source, "qc.may_touch_border", "must be a list of region names");
      for (const auto& r : qc.at("may_touch_border")) {
        if (!r.is_string() || !regions.contains(r.get<std::string>()))
          bad(source, "qc.may_touch_border", "entry " + r.dump() + " is not a region of 'regions'");
        s.may_touch_border.push_back(r.get<std::string>());
      }
    }
  } else {
    s.may_touch_border = {"spine", "scapulae", "humeri"};
  }
  return s;
}

struct Segmenter::Module {
  torch::jit::script::Module module;
};

namespace {

// The module's output as logits [B, K, h, w]: a tensor, or the first tensor of a tuple or
// list, or the "out" entry of a dict (torchvision's segmentation models).
torch::Tensor output_tensor(const c10::IValue& v, const std::string& model) {
  if (v.isTensor()) return v.toTensor();
  if (v.isTuple() && !v.toTuple()->elements().empty()) return output_tensor(v.toTuple()->elements()[0], model);
  if (v.isList() && v.toListRef().size() > 0) return output_tensor(v.toListRef()[0], model);
  if (v.isGenericDict()) {
    for (const auto& e : v.toGenericDict())
      if (e.key().isString() && e.key().toStringRef() == "out") return output_tensor(e.value(), model);
  }
  throw InputError(model + ": the module returned " + v.tagKind() + ", not a tensor of logits [B, K, h, w]");
}

// The informative line of a LibTorch error: the interpreter's "RuntimeError: ..." (the
// module's own words, e.g. "expected input[1, 1, 64, 64] to have 3 channels") when there
// is one, else the first line.
std::string first_line(const std::string& text) {
  const size_t at = text.rfind("RuntimeError: ");
  if (at != std::string::npos) {
    const size_t start = at + 14;
    return one_line(text.substr(start, text.find('\n', start) - start));
  }
  return one_line(text.substr(0, text.find('\n')));
}

}  // namespace

Segmenter::Segmenter(const std::string& model_path, SegmenterSpec spec, torch::Device device)
    : model_path_(model_path), spec_(std::move(spec)), device_(device), module_(std::make_unique<Module>()) {
  std::error_code ec;
  if (!fs::is_regular_file(model_path, ec)) throw InputError(model_path + ": no such file");
  try {
    module_->module = torch::jit::load(model_path, device_);
  } catch (const std::exception& e) {
    throw InputError(model_path + ": not a TorchScript file (export the model with torch.jit.trace or torch.jit.script and "
                                  "save it with .save(); LibTorch said: " + first_line(e.what()) + ")");
  }
  module_->module.eval();
  // The dry run: zeros of the spec's input size must come back as K channels.
  torch::Tensor y;
  try {
    y = logits(torch::zeros({1, spec_.channels, spec_.height, spec_.width}));
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(model_path + ": fails on a zero input [1, " + std::to_string(spec_.channels) + ", " +
                     std::to_string(spec_.height) + ", " + std::to_string(spec_.width) + "] as " + spec_.source +
                     " describes it (" + first_line(e.what()) + ")");
  }
  const int64_t K = static_cast<int64_t>(spec_.output_channels.size());
  if (y.dim() != 4 || y.size(0) != 1 || y.size(1) != K || y.size(2) < 1 || y.size(3) < 1) {
    std::string shape;
    for (int64_t d : y.sizes()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw InputError(model_path + ": returns [" + shape + "] for one image, but " + spec_.source + " names " +
                     std::to_string(K) + " output channels (expected [1, " + std::to_string(K) + ", h, w])");
  }
}

Segmenter::~Segmenter() = default;

torch::Tensor Segmenter::logits(const torch::Tensor& batch) {
  torch::InferenceMode guard;
  std::vector<c10::IValue> inputs{batch.to(device_, torch::kFloat32)};
  const torch::Tensor y = output_tensor(module_->module.forward(inputs), model_path_);
  return y.to(torch::kCPU, torch::kFloat32).contiguous();
}

#if OSTEOFM_WITH_IMAGE_IO
torch::Tensor Segmenter::preprocess(const GrayImage& image) const {
  const int h = spec_.height, w = spec_.width;
  cv::Mat src(image.height, image.width, CV_32F, const_cast<float*>(image.pixels.data())), dst;
  // Step 2: area averaging when neither side grows, bilinear otherwise.
  const bool shrinking = w <= image.width && h <= image.height;
  cv::resize(src, dst, cv::Size(w, h), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  torch::Tensor out = torch::empty({spec_.channels, h, w}, torch::kFloat32);
  float* o = out.data_ptr<float>();
  for (int c = 0; c < spec_.channels; ++c)
    for (int y = 0; y < h; ++y) {
      const float* row = dst.ptr<float>(y);
      for (int x = 0; x < w; ++x) *o++ = (row[x] - spec_.mean[c]) / spec_.std[c];
    }
  return out;
}

SegmentedImage Segmenter::masks(const torch::Tensor& logits, int width, int height) const {
  const int64_t K = static_cast<int64_t>(spec_.output_channels.size());
  if (logits.dim() != 3 || logits.size(0) != K) throw RuntimeFailure("segmenter: logits of the wrong shape");
  torch::Tensor prob = (spec_.activation == "sigmoid" ? torch::sigmoid(logits) : torch::softmax(logits, 0)).contiguous();
  const int lh = static_cast<int>(prob.size(1)), lw = static_cast<int>(prob.size(2));
  const size_t n = static_cast<size_t>(width) * height;
  SegmentedImage out;
  out.width = width;
  out.height = height;
  out.mask.assign(n, 0);
  out.channel_on.assign(static_cast<size_t>(K), {});
  // Channel k's probability at the image's size (step 6).
  auto upsampled = [&](int64_t k) {
    cv::Mat p(lh, lw, CV_32F, prob[k].data_ptr<float>()), up;
    cv::resize(p, up, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    return up;
  };
  if (spec_.activation == "sigmoid") {
    for (int64_t k = 0; k < K; ++k) {
      if (!spec_.output_channels[static_cast<size_t>(k)]) continue;  // a null channel is ignored
      const cv::Mat up = upsampled(k);
      std::vector<uint8_t>& on = out.channel_on[static_cast<size_t>(k)];
      on.assign(n, 0);
      for (int y = 0; y < height; ++y) {
        const float* row = up.ptr<float>(y);
        for (int x = 0; x < width; ++x) on[static_cast<size_t>(y) * width + x] = row[x] >= spec_.threshold;
      }
    }
  } else {
    // Arg-max over all K channels, ties to the lowest index: a later channel wins a pixel
    // only when strictly more probable.
    std::vector<float> best(n);
    std::vector<uint16_t> arg(n, 0);
    for (int64_t k = 0; k < K; ++k) {
      const cv::Mat up = upsampled(k);
      for (int y = 0; y < height; ++y) {
        const float* row = up.ptr<float>(y);
        for (int x = 0; x < width; ++x) {
          const size_t i = static_cast<size_t>(y) * width + x;
          if (k == 0 || row[x] > best[i]) {
            best[i] = row[x];
            arg[i] = static_cast<uint16_t>(k);
          }
        }
      }
    }
    for (int64_t k = 0; k < K; ++k) {
      if (!spec_.output_channels[static_cast<size_t>(k)]) continue;  // background: wins pixels, sets no bit
      std::vector<uint8_t>& on = out.channel_on[static_cast<size_t>(k)];
      on.assign(n, 0);
      for (size_t i = 0; i < n; ++i) on[i] = arg[i] == k;
    }
  }
  for (size_t r = 0; r < spec_.regions.size(); ++r) {
    const uint8_t bit = spec_.table.regions[r].bits;
    for (int k : spec_.regions[r].channels) {
      const std::vector<uint8_t>& on = out.channel_on[static_cast<size_t>(k)];
      for (size_t i = 0; i < n; ++i)
        if (on[i]) out.mask[i] |= bit;
    }
  }
  return out;
}
#else
torch::Tensor Segmenter::preprocess(const GrayImage&) const {
  throw InputError("data segment resizes with OpenCV, which this build lacks (OSTEOFM_WITH_IMAGE_IO=OFF)");
}
SegmentedImage Segmenter::masks(const torch::Tensor&, int, int) const {
  throw InputError("data segment resizes with OpenCV, which this build lacks (OSTEOFM_WITH_IMAGE_IO=OFF)");
}
#endif

}  // namespace osteofm
