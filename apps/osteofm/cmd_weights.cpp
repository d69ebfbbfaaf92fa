// osteofm weights inspect: names, dtypes, shapes and parameter count of a checkpoint.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "io/safetensors.hpp"

namespace osteofm::cli {

void add_weights_command(CLI::App& root, Commands& commands) {
  auto* weights = root.add_subcommand("weights", "Inspect checkpoint files");
  weights->require_subcommand(1);
  struct Options {
    std::string file;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  auto* inspect = weights->add_subcommand("inspect", "List tensors of a .safetensors file");
  inspect->add_option("FILE", opt->file, "A .safetensors file")->required();
  inspect->add_flag("--json", opt->json, "Print JSON");
  commands.push_back({inspect, [opt] {
    auto f = SafetensorsFile::open(opt->file);
    int64_t params = 0;
    uint64_t bytes = 0;
    for (const auto& e : f->tensors()) {
      params += e.numel();
      bytes += e.nbytes();
    }
    if (opt->json) {
      nlohmann::json j;
      j["file"] = opt->file;
      j["parameters"] = params;
      j["bytes"] = bytes;
      j["metadata"] = f->header().metadata;
      nlohmann::json list = nlohmann::json::array();
      for (const auto& e : f->tensors())
        list.push_back({{"name", e.name}, {"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"numel", e.numel()}});
      j["tensors"] = list;
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    for (const auto& e : f->tensors()) {
      std::string shape = "[";
      for (size_t i = 0; i < e.shape.size(); ++i) shape += (i ? "," : "") + std::to_string(e.shape[i]);
      shape += "]";
      std::printf("%-60s %-5s %-20s %lld\n", e.name.c_str(), dtype_name(e.dtype), shape.c_str(),
                  static_cast<long long>(e.numel()));
    }
    std::printf("%zu tensors, %lld parameters (%.2f M), %.2f MB\n", f->tensors().size(), static_cast<long long>(params),
                params / 1e6, bytes / 1e6);
    for (const auto& [k, v] : f->header().metadata) std::printf("metadata %s = %s\n", k.c_str(), v.c_str());
    return 0;
  }});
}

}  // namespace osteofm::cli
