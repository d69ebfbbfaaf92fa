#include "models/checkpoint.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <set>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "io/safetensors_torch.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
std::string shape_str(const torch::Tensor& t) { return c10::str(t.sizes()); }

void load_shard(const std::string& path, const BackboneFamily& family, TensorMap& out,
                const std::set<std::string>* only = nullptr) {
  auto file = SafetensorsFile::open(path);
  for (const auto& e : file->tensors())
    if (family.wants(e.name) && (!only || only->count(e.name))) out[e.name] = tensor_from(file, e);
}

void random_init(VisionTransformer& vit, uint64_t seed) {
  torch::NoGradGuard ng;
  torch::manual_seed(seed);
  for (auto& item : vit->named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    if (ends_with(name, ".gamma")) p.fill_(1.0);
    else if (ends_with(name, "norm.weight") || ends_with(name, "norm1.weight") || ends_with(name, "norm2.weight") ||
             ends_with(name, "ln_pre.weight"))
      p.fill_(1.0);
    else if (ends_with(name, ".bias")) p.zero_();
    else p.normal_(0.0, 0.02);
  }
}
// The family whose adapter reads the most of this checkpoint's tensor names ("" if none, or
// when `chosen` reads at least half of them: the file is then the chosen family's, only
// incomplete or of another size, and naming a family that reads everything (dinov2 takes any
// name) would send the user the wrong way).
std::string guess_family(const std::string& path, const BackboneFamily* chosen = nullptr) {
  std::vector<std::string> names;
  try {
    if (sniff_checkpoint(path) == CheckpointKind::Index) {
      for (const auto& [name, shard] : read_checkpoint_index(path)) names.push_back(name);
    } else {
      // Held by name: a range-for over open(path)->tensors() would read the list after the
      // temporary file (and so the list) was freed.
      const auto file = SafetensorsFile::open(path);
      for (const auto& e : file->tensors()) names.push_back(e.name);
    }
  } catch (const std::exception&) {
    return "";
  }
  auto count = [&](const BackboneFamily& f) {
    size_t n = 0;
    for (const auto& name : names) n += f.wants(name);
    return n;
  };
  if (chosen && count(*chosen) * 2 >= names.size() && !names.empty()) return chosen->name();
  std::string best;
  size_t best_count = 0;
  for (const auto& f : backbone_families()) {
    const size_t n = count(*f);
    if (n > best_count) {
      best_count = n;
      best = f->name();
    }
  }
  return best;
}
// "; it looks like a dinov2 checkpoint: use a dinov2 preset" (or "" when no family reads it).
std::string family_hint(const std::string& path) {
  const std::string guess = guess_family(path);
  return guess.empty() ? " (no known family reads its tensor names)"
                       : "; it looks like a " + guess + " checkpoint: use a " + guess + " preset";
}
}  // namespace

TensorMap read_checkpoint(const std::string& path, const BackboneFamily& family) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path + ": no such file");
  TensorMap out;
  if (ends_with(path, ".json") || sniff_checkpoint(path) == CheckpointKind::Index) {
    std::map<std::string, std::set<std::string>> by_shard;
    for (const auto& [name, shard] : read_checkpoint_index(path))
      if (family.wants(name)) by_shard[shard].insert(name);
    if (by_shard.empty())
      throw InputError(path + ": no tensor of the " + family.name() + " vision tower in weight_map" + family_hint(path));
    const fs::path dir = fs::path(path).parent_path();
    for (const auto& [shard, names] : by_shard) {
      const std::string shard_path = (dir / shard).string();
      load_shard(shard_path, family, out, &names);
      for (const auto& n : names)
        if (!out.count(n)) throw InputError(shard_path + ": tensor '" + n + "' listed in " + path + " is missing");
    }
    return out;
  }
  // By content, not by name: a pickle saved as model.safetensors is still a pickle.
  const CheckpointKind kind = sniff_checkpoint(path);
  if (kind == CheckpointKind::Pickle || kind == CheckpointKind::TorchZip || ends_with(path, ".pth") ||
      ends_with(path, ".pt") || ends_with(path, ".bin") || ends_with(path, ".ckpt"))
    throw InputError(pickle_advice(path));
  load_shard(path, family, out);
  if (out.empty()) throw InputError(path + ": no tensor of the " + family.name() + " vision tower" + family_hint(path));
  return out;
}

Backbone load_backbone(const BackboneSpec& spec) {
  Backbone b;
  b.family = &family_of_preset(spec.preset, &b.preset);
  ArchConfig arch = b.preset.arch;
  TensorMap upstream;
  if (!spec.weights.empty()) {
    const fs::path config = fs::path(spec.weights).parent_path() / "config.json";
    if (fs::exists(config)) {
      const json c = parse_json_file(config.string());
      if (c.is_discarded()) throw InputError(config.string() + ": not valid JSON");
      b.family->apply_hf_config(c, arch);
    }
  }
  if (!spec.arch_file.empty()) {
    const json j = parse_json_file(spec.arch_file);
    if (j.is_discarded()) throw InputError(spec.arch_file + ": not valid JSON");
    arch = arch_from_json(j, arch, spec.arch_file);
  }
  validate_arch(arch, spec.arch_file.empty() ? spec.preset : spec.arch_file);
  if (!spec.weights.empty()) {
    upstream = read_checkpoint(spec.weights, *b.family);
    if (arch.pos_interp == "auto") arch.pos_interp = b.family->auto_pos_interp(upstream, arch);
  } else if (arch.pos_interp == "auto") {
    arch.pos_interp = b.family->auto_pos_interp({}, arch);
  }
  b.vit = VisionTransformer(arch);
  b.preset.arch = b.vit->arch;
  b.weights = spec.weights;
  if (spec.weights.empty()) {
    random_init(b.vit, spec.seed);
  } else {
    WeightMapping m = b.family->map_weights(upstream, arch);
    std::vector<std::string> missing, mismatched;
    torch::NoGradGuard ng;
    for (auto& item : b.vit->named_parameters()) {
      const std::string& name = item.key();
      torch::Tensor& p = item.value();
      auto it = m.canonical.find(name);
      if (it == m.canonical.end()) {
        missing.push_back(name + " " + shape_str(p));
        continue;
      }
      if (it->second.sizes() != p.sizes()) {
        mismatched.push_back(name + " expected " + shape_str(p) + " found " + shape_str(it->second));
        m.canonical.erase(it);  // named once, as a mismatch, not again as unexpected
        continue;
      }
      p.copy_(it->second.to(p.scalar_type()));
      m.canonical.erase(it);
    }
    for (const auto& [name, t] : m.canonical) m.unexpected.push_back(name + " " + shape_str(t));
    if (!missing.empty() || !mismatched.empty() || !m.unexpected.empty()) {
      std::string msg = spec.weights + ": does not fit " + spec.preset + ":";
      // Most of the model missing: probably another family's checkpoint; say which.
      if (missing.size() * 2 > b.vit->named_parameters().size()) {
        const std::string guess = guess_family(spec.weights, b.family);
        if (!guess.empty() && guess != b.family->name())
          throw InputError(spec.weights + ": looks like a " + guess + " checkpoint, not " + b.family->name() + " (" +
                           std::to_string(missing.size()) + " of the " + spec.preset +
                           " tensors are missing); use a " + guess + " preset (osteofm weights inspect lists its tensors)");
        msg += " most of the model is missing (an incomplete file, or a model of another size than the preset: a "
               "config.json beside the weights or --arch sets the size);";
      }
      auto list = [&](const char* what, const std::vector<std::string>& v) {
        if (v.empty()) return;
        msg += " " + std::to_string(v.size()) + " " + what + " (";
        const size_t shown = std::min<size_t>(v.size(), 8);
        for (size_t i = 0; i < shown; ++i) msg += (i ? ", " : "") + v[i];
        if (shown < v.size()) msg += ", ... and " + std::to_string(v.size() - shown) + " more";
        msg += ");";
      };
      list("missing", missing);
      list("shape mismatches", mismatched);
      list("unexpected", m.unexpected);
      msg.pop_back();
      throw InputError(msg);
    }
  }
  b.vit->eval();
  return b;
}

std::string backbone_weights(const std::string& preset, const std::string& weights, const std::string& what) {
  BackbonePreset known;
  family_of_preset(preset, &known);  // an unknown preset is named (with the known ones) first
  if (is_random_weights(weights)) return "";
  if (weights.empty() && !is_tiny_preset(preset))
    throw InputError(what + " is not given for the pretrained preset '" + preset +
                     "': give its checkpoint file, or \"random\" to use random weights on purpose");
  return weights;
}

bool is_random_weights(const std::string& weights) { return weights == "random"; }

}  // namespace osteofm
