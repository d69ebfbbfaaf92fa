// osteofm weights inspect: names, dtypes, shapes and parameter count of a checkpoint.
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "core/error.hpp"
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
  auto* inspect = weights->add_subcommand("inspect", "List tensors of a .safetensors file or a sharded checkpoint's index JSON");
  inspect->add_option("FILE", opt->file, "A .safetensors file or a *.index.json")->required();
  inspect->add_flag("--json", opt->json, "Print JSON");
  commands.push_back({inspect, [opt] {
    struct Row {
      TensorEntry entry;
      std::string shard;  // the file holding it (sharded checkpoints)
    };
    std::vector<Row> rows;
    std::map<std::string, std::string> metadata;
    const CheckpointKind kind = sniff_checkpoint(opt->file);
    if (kind == CheckpointKind::Pickle || kind == CheckpointKind::TorchZip) throw InputError(pickle_advice(opt->file));
    if (kind == CheckpointKind::Index) {
      // A sharded checkpoint: every shard's header, tensors in index order.
      std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
      const auto dir = std::filesystem::path(opt->file).parent_path();
      for (const auto& [name, shard] : read_checkpoint_index(opt->file)) {
        auto& f = shards[shard];
        if (!f) f = SafetensorsFile::open((dir / shard).string());
        const TensorEntry* e = f->find(name);
        if (!e) throw InputError((dir / shard).string() + ": tensor '" + name + "' listed in " + opt->file + " is missing");
        rows.push_back({*e, shard});
      }
    } else {
      auto f = SafetensorsFile::open(opt->file);
      for (const auto& e : f->tensors()) rows.push_back({e, ""});
      metadata = f->header().metadata;
    }
    int64_t params = 0;
    uint64_t bytes = 0;
    for (const auto& r : rows) {
      params += r.entry.numel();
      bytes += r.entry.nbytes();
    }
    if (opt->json) {
      nlohmann::json j;
      j["file"] = opt->file;
      j["parameters"] = params;
      j["bytes"] = bytes;
      j["metadata"] = metadata;
      nlohmann::json list = nlohmann::json::array();
      for (const auto& r : rows) {
        const auto& e = r.entry;
        list.push_back({{"name", e.name}, {"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"numel", e.numel()}});
        if (!r.shard.empty()) list.back()["shard"] = r.shard;
      }
      j["tensors"] = list;
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    for (const auto& r : rows) {
      const auto& e = r.entry;
      std::string shape = "[";
      for (size_t i = 0; i < e.shape.size(); ++i) shape += (i ? "," : "") + std::to_string(e.shape[i]);
      shape += "]";
      std::printf("%-60s %-5s %-20s %lld\n", e.name.c_str(), dtype_name(e.dtype), shape.c_str(),
                  static_cast<long long>(e.numel()));
    }
    std::printf("%zu tensors, %lld parameters (%.2f M), %.2f MB\n", rows.size(), static_cast<long long>(params),
                params / 1e6, bytes / 1e6);
    for (const auto& [k, v] : metadata) std::printf("metadata %s = %s\n", k.c_str(), v.c_str());
    return 0;
  }});
}

namespace {
const CommandRegistrar weights_registrar(40, add_weights_command);
}  // namespace

}  // namespace osteofm::cli
