// osteofm data check | split | cache: validate a manifest; make patient-level splits;
// decode once into a tensor cache.
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "core/parallel.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/runtime.hpp"
#include "data/cohort_link.hpp"
#include "data/dataset_check.hpp"
#include "data/mask_convert.hpp"
#include "data/split.hpp"
#include "data/tensor_cache.hpp"
#include "io/image.hpp"
#include "io/manifest.hpp"
#include "report/flow_diagram.hpp"
#include "models/backbone.hpp"

namespace osteofm::cli {

void add_data_command(CLI::App& root, Commands& commands) {
  auto* data = root.add_subcommand("data", "Check manifests, make splits, build tensor caches");
  data->require_subcommand(1);

  struct CheckOptions {
    std::string manifest, json;
    bool decode = false;
  };
  auto check = std::make_shared<CheckOptions>();
  auto* c = data->add_subcommand("check", "Report classes, splits, patients and every problem of a manifest, by row");
  c->add_option("MANIFEST", check->manifest, "Manifest CSV")->required();
  c->add_option("--json", check->json, "Also write the report as JSON to this file (- for standard output)");
  c->add_flag("--decode", check->decode, "Decode every image and mask fully (default: existence and format only)");
  commands.push_back({c, [check] {
    Manifest m = load_manifest(check->manifest);
    DatasetReport rep = check_dataset(m, check->decode, resolve_threads(0));
    (check->json == "-" ? std::cerr : std::cout) << report_text(rep);  // stdout stays pure JSON with --json -
    if (check->json == "-") std::cout << report_json(rep).dump(2) << "\n";  // for pipes: jq, scripts
    else if (!check->json.empty()) write_file_atomic(check->json, report_json(rep).dump(2) + "\n");
    if (!rep.usable()) {
      std::cerr << "osteofm: error: " << check->manifest << ": unusable manifest, " << rep.errors << " errors (listed above)\n";
      return 2;
    }
    return 0;
  }});

  struct SplitOptions {
    std::string manifest, out, ratios = "0.7,0.1,0.2";
    uint64_t seed = 1;
  };
  auto split = std::make_shared<SplitOptions>();
  auto* s = data->add_subcommand("split", "Stratified, patient-level, seeded train/val/test split");
  s->add_option("MANIFEST", split->manifest, "Manifest CSV")->required();
  s->add_option("--out", split->out, "Output manifest (the input's columns plus split)")->required();
  s->add_option("--ratios", split->ratios, "train,val,test fractions")->capture_default_str();
  s->add_option("--seed", split->seed, "Random seed")->capture_default_str();
  commands.push_back({s, [split] {
    const SplitRatios ratios = parse_split_ratios(split->ratios);
    Manifest m = load_manifest(split->manifest);
    std::vector<std::string> duplicates;
    const auto assignment = split_manifest(m, ratios, split->seed, &duplicates);
    for (const auto& d : duplicates)
      std::cerr << "osteofm: warning: " << split->manifest << ": " << d << "\n";
    write_manifest(m, split->out);
    size_t count[3] = {0, 0, 0};
    for (const auto& [patient, name] : assignment) count[name == "train" ? 0 : name == "val" ? 1 : 2]++;
    std::cout << split->out << ": " << m.rows.size() << " images, patients train " << count[0] << ", val " << count[1]
              << ", test " << count[2] << " (seed " << split->seed << ")\n";
    // A cohort from data link: its flow diagram again, with the final counts by split.
    const std::string flow_in = cohort_prefix(split->manifest) + ".flow.json";
    if (std::filesystem::is_regular_file(flow_in)) {
      const std::string prefix = cohort_prefix(split->out);
      nlohmann::json flow;
      try {
        flow = cohort_flow_with_splits(read_json_file(flow_in), m);
      } catch (const nlohmann::json::exception& e) {
        throw InputError(flow_in + ": not a flow file of data link: " + e.what());
      }
      write_file_atomic(prefix + ".flow.json", flow.dump(1) + "\n");
      const FlowDiagram diagram = cohort_flow_diagram(flow);
      write_flow_svg(prefix + ".flow.svg", diagram);
      if (image_io_available()) write_flow_png(prefix + ".flow.png", diagram);
      std::cout << "  flow diagram by split: " << prefix << ".flow.svg\n";
    }
    return 0;
  }});

  struct MasksCmd {
    MaskConversion conversion;
    std::vector<std::string> maps, mask_cols;
  };
  auto masks = std::make_shared<MasksCmd>();
  auto* mk = data->add_subcommand("masks", "Turn label-value masks (e.g. V7 Labs lung PNGs) into bit-coded region masks");
  mk->add_option("PAIRS", masks->conversion.pairs_csv, "CSV with an image column and a mask column")->required();
  mk->add_option("--image-col", masks->conversion.image_column, "Image column")->capture_default_str();
  mk->add_option("--mask-col", masks->mask_cols,
                 "The label-mask column (default semantic_mask), or REGION=COLUMN, repeatable: one binary PNG per "
                 "structure (non-zero = inside; overlaps allowed; an empty cell = absent), e.g. spine=spine_png");
  mk->add_option("--map", masks->maps, "VALUE=REGION, repeatable, for a label mask (V7 Labs: 255=lungs; 127 'ignore' "
                                       "maps to nothing)");
  mk->add_option("--out", masks->conversion.out_dir, "Output folder: masks/*.png, regions.json, masks.csv")->required();
  mk->add_option("--root", masks->conversion.root,
                 "Folder the CSV's relative paths resolve against (default: the CSV's folder)");
  commands.push_back({mk, [masks] {
    for (const auto& m : masks->maps) masks->conversion.value_to_region.insert(parse_value_region(m));
    for (const auto& col : masks->mask_cols) {
      if (col.find('=') == std::string::npos) {
        if (masks->mask_cols.size() > 1)
          throw InputError("--mask-col '" + col + "': with several --mask-col, each is REGION=COLUMN");
        masks->conversion.mask_column = col;
      } else {
        masks->conversion.region_columns.push_back(parse_region_column(col));
      }
    }
    const MaskConversionSummary s = convert_label_masks(masks->conversion);
    std::cout << masks->conversion.out_dir << ": " << s.masks << " masks; regions";
    for (const auto& [name, bit] : s.region_bits) std::cout << " " << name << "=" << bit;
    std::cout << "; pairs in " << s.csv << " (put them in your manifest's mask column)\n";
    return 0;
  }});

  struct CacheCmd {
    std::string manifest, out, preset;
    CacheOptions options;
  };
  auto cache = std::make_shared<CacheCmd>();
  auto* k = data->add_subcommand("cache", "Decode, window and resize every image (and mask) once into safetensors shards");
  k->add_option("MANIFEST", cache->manifest, "Manifest CSV")->required();
  auto* size = k->add_option("--size", cache->options.size, "Side of the stored square images, pixels");
  auto* preset = k->add_option("--preset", cache->preset,
                               "Take --fit, --crop-fraction and --crop-offset (and --size unless given) from a backbone preset");
  k->add_option("--out", cache->out, "Cache folder (an interrupted build in it continues)")->required();
  auto* fit = k->add_option("--fit", cache->options.fit, "crop (short side + centre crop) or squash")->capture_default_str();
  auto* crop = k->add_option("--crop-fraction", cache->options.crop_fraction,
                             "crop: the short side goes to floor(size / fraction) before the centre crop")
                   ->capture_default_str();
  auto* offset = k->add_option("--crop-offset", cache->options.crop_offset,
                               "crop: an odd margin's start, floor (HF) or round (torchvision)")
                     ->capture_default_str();
  preset->excludes(fit)->excludes(crop)->excludes(offset);
  k->add_option("--shard-mb", cache->options.shard_mb, "Target shard size, MB")->capture_default_str();
  commands.push_back({k, [cache, size] {
    stop_safely_on_interrupt("data cache stopped; finished shards are kept: run the same command again to carry on");
    if (!cache->preset.empty()) {
      BackbonePreset p;
      family_of_preset(cache->preset, &p);
      const int patch = p.arch.patch_size;
      const int given_size = cache->options.size;
      set_cache_geometry(cache->options, p.preprocessing);
      if (size->count() > 0) cache->options.size = given_size;
      if (cache->options.size % patch != 0)
        throw InputError("--size " + std::to_string(cache->options.size) + " is not a multiple of " + cache->preset +
                         "'s patch size " + std::to_string(patch));
    } else if (size->count() == 0) {
      throw InputError("data cache: give --size, or --preset to take the geometry from a backbone");
    }
    cache->options.threads = resolve_threads(0);
    const CacheSummary s = build_tensor_cache(cache->manifest, cache->out, cache->options);
    for (const auto& f : s.failures) std::cerr << "osteofm: error: " << f << "\n";
    std::cout << cache->out << ": " << s.images << " images in " << s.shards << " shards (" << s.decoded
              << " decoded now, " << s.reused << " kept from before, " << s.failed << " failed) in " << s.seconds
              << " s\n";
    if (s.failed > 0) {
      std::cerr << "osteofm: error: " << cache->out << ": " << s.failed
                << " images could not be decoded (listed above, recorded in index.csv); fix them and run again\n";
      return 2;
    }
    return 0;
  }});
}

namespace {
const CommandRegistrar data_registrar(30, add_data_command);
}  // namespace

}  // namespace osteofm::cli
