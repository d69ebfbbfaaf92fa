#include "io/safetensors.hpp"

#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"

namespace osteofm {
using nlohmann::json;

namespace {
struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::Bool, "BOOL", 1}, {DType::U8, "U8", 1},     {DType::I8, "I8", 1},     {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},   {DType::I32, "I32", 4},   {DType::U32, "U32", 4},   {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},   {DType::F16, "F16", 2},   {DType::BF16, "BF16", 2}, {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},
};
const DTypeInfo& info(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i;
  return kDTypes[0];
}

bool host_is_little_endian() {
  const uint16_t probe = 1;
  uint8_t first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// Non-negative JSON integer that fits in uint64 (nlohmann stores large ones as unsigned).
std::optional<uint64_t> as_uint(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}
}  // namespace

size_t dtype_size(DType d) { return info(d).size; }
const char* dtype_name(DType d) { return info(d).name; }
std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& i : kDTypes)
    if (name == i.name) return i.dtype;
  return std::nullopt;
}

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsHeader parse_safetensors(const uint8_t* bytes, size_t size, const std::string& source) {
  if (!host_is_little_endian()) throw RuntimeFailure("safetensors needs a little-endian host");
  if (size < 8) throw InputError(source + ": not a safetensors file: " + std::to_string(size) + " bytes, the 8-byte header length is missing");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n == 0) throw InputError(source + ": safetensors header length is 0");
  if (n > kMaxSafetensorsHeader)
    throw InputError(source + ": safetensors header length " + std::to_string(n) + " exceeds the 100 MB limit (corrupt or not a safetensors file)");
  if (n > size - 8)
    throw InputError(source + ": safetensors header length " + std::to_string(n) + " exceeds the file size (" + std::to_string(size) + " bytes): truncated file?");
  const char* hp = reinterpret_cast<const char*>(bytes + 8);
  if (hp[0] != '{') throw InputError(source + ": safetensors header does not start with '{'");

  // Duplicate top-level names are silently merged by JSON parsers; catch them here.
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty()) duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json h = json::parse(hp, hp + n, on_event, /*allow_exceptions=*/false);
  if (h.is_discarded()) throw InputError(source + ": safetensors header is not valid JSON");
  if (!h.is_object()) throw InputError(source + ": safetensors header is not a JSON object");
  if (!duplicate.empty()) throw InputError(source + ": tensor '" + duplicate + "' appears twice in the header");

  SafetensorsHeader out;
  out.data_start = 8 + n;
  out.data_size = size - 8 - n;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw InputError(source + ": __metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw InputError(source + ": __metadata__ value '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = source + ": tensor '" + name + "'";
    if (name.empty()) throw InputError(source + ": a tensor has an empty name");
    if (!v.is_object()) throw InputError(where + ": entry is not an object");
    for (auto f = v.begin(); f != v.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        throw InputError(where + ": unknown field '" + f.key() + "'");
    if (!v.contains("dtype") || !v["dtype"].is_string()) throw InputError(where + ": missing dtype");
    auto dt = parse_dtype(v["dtype"].get<std::string>());
    if (!dt) throw InputError(where + ": unsupported dtype '" + v["dtype"].get<std::string>() + "'");
    if (!v.contains("shape") || !v["shape"].is_array()) throw InputError(where + ": missing shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      throw InputError(where + ": data_offsets must be [begin, end]");
    TensorEntry e;
    e.name = name;
    e.dtype = *dt;
    uint64_t numel = 1;
    const uint64_t cap = std::numeric_limits<uint64_t>::max() / 16;
    for (const json& d : v["shape"]) {
      auto dim = as_uint(d);
      if (!dim) throw InputError(where + ": shape has a negative or non-integer dimension");
      if (*dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw InputError(where + ": shape dimension too large");
      if (*dim != 0 && numel > cap / *dim) throw InputError(where + ": shape is too large (overflow)");
      numel *= *dim;
      e.shape.push_back(static_cast<int64_t>(*dim));
    }
    auto b = as_uint(v["data_offsets"][0]);
    auto en = as_uint(v["data_offsets"][1]);
    if (!b || !en) throw InputError(where + ": data_offsets are not non-negative integers");
    if (*b > *en) throw InputError(where + ": data_offsets begin > end");
    if (*en > out.data_size)
      throw InputError(where + ": data ends at byte " + std::to_string(*en) + " but the data section has " +
                       std::to_string(out.data_size) + " bytes (truncated file?)");
    const uint64_t expected = numel * dtype_size(*dt);
    if (*en - *b != expected)
      throw InputError(where + ": " + std::to_string(*en - *b) + " bytes for dtype " + dtype_name(*dt) + " and " +
                       std::to_string(numel) + " elements, expected " + std::to_string(expected));
    e.begin = *b;
    e.end = *en;
    out.tensors.push_back(std::move(e));
  }
  // Overlaps and gaps: sort by offset and walk the data section.
  std::vector<const TensorEntry*> by_offset;
  for (const auto& e : out.tensors) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  const TensorEntry* prev = nullptr;
  for (const TensorEntry* e : by_offset) {
    if (e->begin < pos)
      throw InputError(source + ": tensor '" + e->name + "' overlaps tensor '" + prev->name + "'");
    if (e->begin > pos)
      throw InputError(source + ": " + std::to_string(e->begin - pos) + " unused bytes before tensor '" + e->name + "'");
    pos = e->end;
    prev = e;
  }
  if (pos != out.data_size)
    throw InputError(source + ": " + std::to_string(out.data_size - pos) + " bytes after the last tensor are not described by the header");
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
  return out;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer forever; the fstat
  // below refuses it (and a device) at once. Regular files ignore the flag.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) throw InputError(path + ": no such file");
    throw InputError(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path + ": not a regular file");
  }
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ > 0) {
    f->map_ = ::mmap(nullptr, f->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (f->map_ == MAP_FAILED) {
      f->map_ = nullptr;
      ::close(fd);
      throw InputError(path + ": cannot map: " + std::strerror(errno));
    }
  }
  ::close(fd);
  f->header_ = parse_safetensors(static_cast<const uint8_t*>(f->map_), f->size_, path);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(header_.tensors.begin(), header_.tensors.end(), name,
                             [](const TensorEntry& e, std::string_view n) { return e.name < n; });
  return (it != header_.tensors.end() && it->name == name) ? &*it : nullptr;
}

const TensorEntry& SafetensorsFile::at(std::string_view name) const {
  const TensorEntry* e = find(name);
  if (!e) throw InputError(path_ + ": no tensor named '" + std::string(name) + "'");
  return *e;
}

uint8_t* SafetensorsFile::data(const TensorEntry& e) const {
  return static_cast<uint8_t*>(map_) + header_.data_start + e.begin;
}

void SafetensorsWriter::add(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                            const void* data, size_t nbytes) {
  if (name.empty() || name == "__metadata__") throw RuntimeFailure("safetensors: invalid tensor name '" + name + "'");
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw RuntimeFailure("safetensors: negative dimension in tensor '" + name + "'");
    numel *= static_cast<uint64_t>(d);
  }
  if (numel * dtype_size(dtype) != nbytes)
    throw RuntimeFailure("safetensors: tensor '" + name + "' has " + std::to_string(nbytes) + " bytes, shape needs " +
                         std::to_string(numel * dtype_size(dtype)));
  Item item{dtype, shape, {}};
  item.bytes.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + nbytes);
  items_[name] = std::move(item);
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

// Data order: widest dtype first, then by name (as upstream safetensors does), so that
// with an 8-aligned data section every tensor is aligned for its dtype.
std::vector<std::pair<const std::string*, const SafetensorsWriter::Item*>> SafetensorsWriter::data_order() const {
  std::vector<std::pair<const std::string*, const Item*>> order;
  for (const auto& [name, item] : items_) order.emplace_back(&name, &item);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return dtype_size(a.second->dtype) > dtype_size(b.second->dtype);
  });
  return order;
}

std::string SafetensorsWriter::header_json() const {
  json h = json::object();
  if (!metadata_.empty()) h["__metadata__"] = metadata_;
  uint64_t off = 0;
  for (const auto& [name, item] : data_order()) {
    h[*name] = {{"dtype", dtype_name(item->dtype)}, {"shape", item->shape}, {"data_offsets", {off, off + item->bytes.size()}}};
    off += item->bytes.size();
  }
  std::string text = h.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  return text;
}

void SafetensorsWriter::write(const std::string& path) const {
  const std::string header = header_json();
  uint8_t len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  AtomicFileWriter out(path);
  out.write(len, 8);
  out.write(header.data(), header.size());
  for (const auto& [name, item] : data_order()) out.write(item->bytes.data(), item->bytes.size());
  out.commit();
}

std::vector<std::pair<std::string, std::string>> read_checkpoint_index(const std::string& path) {
  const json index = parse_json_file(path);
  if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw InputError(path + ": not a sharded-checkpoint index (no weight_map object)");
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string()) throw InputError(path + ": weight_map['" + it.key() + "'] is not a file name");
    out.emplace_back(it.key(), it.value().get<std::string>());
  }
  return out;
}

CheckpointKind sniff_checkpoint(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec) &&
      !std::filesystem::is_directory(path, ec))
    throw InputError(path + ": not a regular file (a pipe or device?)");  // reading it would block
  std::ifstream in(path, std::ios::binary);
  unsigned char b[16] = {0};
  in.read(reinterpret_cast<char*>(b), sizeof b);
  const auto got = in.gcount();
  if (got >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) return CheckpointKind::Pickle;  // PROTO opcode
  if (got >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4) return CheckpointKind::TorchZip;
  if (got >= 9) {
    // 8-byte header length, then JSON. Checked before the index: a header of 123 bytes
    // (0x7B, '{') makes a safetensors file start like a JSON object.
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (n > 1 && b[8] == '{' && (ec || n <= size - 8)) return CheckpointKind::Safetensors;
  }
  if (got >= 1 && b[0] == '{') return CheckpointKind::Index;  // a JSON object (an index, when it has weight_map)
  if (got >= 9 && b[8] == '{') return CheckpointKind::Safetensors;  // its length is wrong: the reader says how
  return CheckpointKind::Unknown;
}

std::string pickle_advice(const std::string& path) {
  return path + ": pickled PyTorch checkpoints can execute code and are not read (this file is one, whatever its "
                "name); convert once with: python3 -c \"import torch,sys; from safetensors.torch import save_file; "
                "sd=torch.load(sys.argv[1], map_location='cpu', weights_only=True); "
                "save_file({k: v.contiguous() for k, v in sd.items()}, sys.argv[2])\" " +
         path + " model.safetensors";
}

}  // namespace osteofm
