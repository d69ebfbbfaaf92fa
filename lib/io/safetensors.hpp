// Safetensors (https://huggingface.co/docs/safetensors): 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets}, "__metadata__": {..}},
// then the raw little-endian tensor bytes. This reader validates every field before any
// byte is touched; no LibTorch here (safetensors_torch.hpp bridges to tensors).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace osteofm {

enum class DType { Bool, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // the safetensors spelling: "F32", "BF16", ...
std::optional<DType> parse_dtype(std::string_view name);

struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // offsets into the data section
  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::vector<TensorEntry> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;           // file offset of the data section (8 + N)
  uint64_t data_size = 0;
};

// Header length above this is refused (upstream's limit is 100 MB as well).
constexpr uint64_t kMaxSafetensorsHeader = 100ull * 1000 * 1000;

// Validates a complete file image. Throws InputError("<source>: ...") naming the tensor
// when one entry is wrong: header length bounds, JSON well-formed and an object,
// duplicate names, known dtype, non-negative shape, offsets inside the data section,
// byte length = dtype size x element count, no overlap, no unused gap.
// What a checkpoint file is, from its first bytes (and a .json name for an index):
// safetensors, a sharded checkpoint's index JSON, a Python pickle (.pth/.bin of old
// torch.save) or a zip archive (torch.save since PyTorch 1.6), or unknown.
enum class CheckpointKind { Safetensors, Index, Pickle, TorchZip, Unknown };
CheckpointKind sniff_checkpoint(const std::string& path);
// The one-line advice for a pickle or torch zip: they can run code and are never read;
// the command that converts one to safetensors.
std::string pickle_advice(const std::string& path);

// A sharded checkpoint's index (HF model.safetensors.index.json): its weight_map as
// (tensor name, shard file name relative to the index's folder) pairs, in name order.
// InputError when the file is not such an index or a shard name is not a string.
std::vector<std::pair<std::string, std::string>> read_checkpoint_index(const std::string& path);

SafetensorsHeader parse_safetensors(const uint8_t* bytes, size_t size, const std::string& source);

// A memory-mapped safetensors file (copy-on-write private mapping: tensors made from it
// may be written to without touching the file). Shared so tensors can keep it alive.
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<TensorEntry>& tensors() const { return header_.tensors; }
  const TensorEntry* find(std::string_view name) const;
  const TensorEntry& at(std::string_view name) const;  // InputError naming the tensor
  uint8_t* data(const TensorEntry& entry) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  SafetensorsHeader header_;
};

// Builds a safetensors file. Tensors are written widest dtype first, the header is padded
// with spaces to a multiple of 8 so every tensor starts 8-byte aligned (zero-copy reads).
class SafetensorsWriter {
 public:
  // Copies `nbytes` of data; nbytes must equal dtype size x element count.
  void add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data,
           size_t nbytes);
  void set_metadata(const std::string& key, const std::string& value);
  std::string header_json() const;
  // Atomic: the file is the complete new one or the old one.
  void write(const std::string& path) const;

 private:
  struct Item {
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<std::pair<const std::string*, const Item*>> data_order() const;
  std::map<std::string, Item> items_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace osteofm
