// osteofm embed: cls, patch_tokens and pooled features of a backbone.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "core/error.hpp"
#include "models/checkpoint.hpp"
#include "models/embed.hpp"
#include "data/cache_index.hpp"

namespace osteofm::cli {

void add_embed_command(CLI::App& root, Commands& commands) {
  struct Options {
    BackboneSpec spec;
    std::string tensor, manifest, out;
    EmbedOptions embed;
  };
  auto o = std::make_shared<Options>();
  auto* e = root.add_subcommand("embed", "Backbone features (cls, patch_tokens, pooled) of a tensor or of manifest images");
  e->add_option("--backbone", o->spec.preset, "Preset, e.g. dinov2-vitb14, rad-dino, openclip-vitb16, chexagent-8b-vision")->required();
  e->add_option("--arch", o->spec.arch_file, "Arch JSON overriding the preset");
  e->add_option("--weights", o->spec.weights, ".safetensors, a sharded checkpoint's index JSON, or 'random' (the default for *-tiny presets only)");
  e->add_option("--seed", o->spec.seed, "Seed of the random weights when --weights is not given")->capture_default_str();
  auto* t = e->add_option("--tensor", o->tensor, "FILE.safetensors[:KEY], already normalised [B,3,H,W]");
  auto* m = e->add_option("--manifest", o->manifest, "Manifest of images (decoded and preprocessed as the family does)");
  t->excludes(m);
  e->add_option("--out", o->out, "Output .safetensors")->required();
  e->add_option("--batch", o->embed.batch_size, "Batch size")->capture_default_str();
  e->add_option("--device", o->embed.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  e->add_option("--precision", o->embed.precision, "auto (bf16 autocast on CUDA), fp32, or bf16 (model cast to bf16)")->capture_default_str();
  commands.push_back({e, [o] {
    if (o->tensor.empty() == o->manifest.empty()) throw InputError("embed: give --tensor or --manifest");
    const bool random = o->spec.weights.empty() || is_random_weights(o->spec.weights);
    o->spec.weights = backbone_weights(o->spec.preset, o->spec.weights, "--weights");
    Backbone b = load_backbone(o->spec);
    Embeddings out = o->tensor.empty() ? embed_manifest(b, load_manifest(o->manifest), o->embed)
                                       : embed_tensor(b, read_tensor_argument(o->tensor), o->embed);
    write_embeddings(o->out, out,
                     {{"backbone", o->spec.preset},
                      {"weights", random ? "random seed " + std::to_string(o->spec.seed) : o->spec.weights},
                      {"arch", arch_to_json(b.preset.arch).dump()}});
    std::cout << o->out << ": cls " << (out.cls.defined() ? c10::str(out.cls.sizes()) : std::string("(no class token)"))
              << ", patch_tokens " << out.patch_tokens.sizes() << ", pooled "
              << out.pooled.sizes() << "\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar embed_registrar(80, add_embed_command);
}  // namespace

}  // namespace osteofm::cli
