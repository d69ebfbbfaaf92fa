// osteofm gradcam: Grad-CAM of a backbone + linear head on pre-normalised tensors (the
// scripting form of what explain does for a run).
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include "command.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"
#include "explain/gradcam.hpp"
#include "io/safetensors_torch.hpp"
#include "models/checkpoint.hpp"
#include "models/embed.hpp"

namespace osteofm::cli {

void add_gradcam_command(CLI::App& root, Commands& commands) {
  struct Options {
    BackboneSpec spec;
    std::string head, tensor, target = "pred", out, device = "cpu";
    int batch = 8;
  };
  auto o = std::make_shared<Options>();
  auto* g = root.add_subcommand("gradcam", "Grad-CAM (cam, cam_grid, logits) of a backbone + linear head on a tensor");
  g->add_option("--backbone", o->spec.preset, "Backbone preset")->required();
  g->add_option("--arch", o->spec.arch_file, "Arch JSON overriding the preset");
  g->add_option("--weights", o->spec.weights, "Backbone weights (.safetensors or sharded index JSON)")->required();
  g->add_option("--head", o->head, ".safetensors with head.weight [C,D] and head.bias [C] (applied to the final-norm CLS)")
      ->required();
  g->add_option("--tensor", o->tensor, "FILE.safetensors[:KEY], normalised images [B,3,H,W]")->required();
  g->add_option("--class", o->target, "Class to explain: an index, a class name (normal, osteopenia, osteoporosis), or pred (each image's argmax)")->capture_default_str();
  g->add_option("--out", o->out, "Output .safetensors (cam [B,H,W], cam_grid [B,h,w], logits [B,C])")->required();
  g->add_option("--batch", o->batch, "Images per backward pass")->capture_default_str();
  g->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  commands.push_back({g, [o] {
    if (o->batch < 1) throw InputError("--batch must be at least 1");
    Backbone b = load_backbone(o->spec);
    auto head = load_safetensors(o->head);
    for (const char* k : {"head.weight", "head.bias"})
      if (!head.count(k)) throw InputError(o->head + ": tensor '" + std::string(k) + "' is missing");
    const auto W = head.at("head.weight").to(torch::kFloat32), bias = head.at("head.bias").to(torch::kFloat32);
    if (W.dim() != 2 || W.size(1) != b.vit->arch.width || bias.dim() != 1 || bias.size(0) != W.size(0))
      throw InputError(o->head + ": tensor 'head.weight' must be [C," + std::to_string(b.vit->arch.width) +
                       "] and 'head.bias' [C]");
    HeadOptions ho;
    ho.classes = static_cast<int>(W.size(0));
    Classifier model(b.vit, ho);
    {
      torch::NoGradGuard ng;
      model->head->weight.copy_(W);
      model->head->bias.copy_(bias);
    }
    const torch::Device device = resolve_device(o->device);
    model->to(device);
    model->eval();
    const auto x = read_tensor_argument(o->tensor);
    if (x.dim() != 4 || x.size(1) != 3) throw InputError(o->tensor + ": images must be [B,3,H,W]");
    std::vector<torch::Tensor> cams, grids, logits;
    for (int64_t i = 0; i < x.size(0); i += o->batch) {
      const auto xb = x.slice(0, i, std::min<int64_t>(i + o->batch, x.size(0))).to(device, torch::kFloat32);
      std::vector<int64_t> target(xb.size(0), kPredictedClass);
      if (o->target != "pred" && o->target != "predicted") {
        // An index of the head, or (three-class heads) a class name, as explain --target takes.
        std::optional<int> c = ho.classes == kNumClasses ? parse_label(o->target) : std::nullopt;
        if (!c) {
          const auto v = parse_number(o->target);
          if (v && *v == std::floor(*v) && *v >= 0 && *v < ho.classes) c = static_cast<int>(*v);
        }
        if (!c)
          throw InputError("--class must be pred, a class index 0.." + std::to_string(ho.classes - 1) +
                           (ho.classes == kNumClasses ? " or normal, osteopenia, osteoporosis" : "") + ", not '" +
                           o->target + "'");
        std::fill(target.begin(), target.end(), *c);
      }
      const GradCamResult r = grad_cam(model, xb, target);
      cams.push_back(r.cam.cpu());
      grids.push_back(r.cam_grid.cpu());
      logits.push_back(r.logits.cpu());
    }
    save_safetensors(o->out, {{"cam", torch::cat(cams)}, {"cam_grid", torch::cat(grids)}, {"logits", torch::cat(logits)}},
                     {{"backbone", o->spec.preset}, {"weights", o->spec.weights}, {"head", o->head}, {"class", o->target}});
    std::cout << o->out << ": cam " << torch::cat(cams).sizes() << ", cam_grid " << torch::cat(grids).sizes() << "\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar gradcam_registrar(110, add_gradcam_command);
}  // namespace

}  // namespace osteofm::cli
