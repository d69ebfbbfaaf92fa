#include "core/dotted_values.hpp"

#include "core/csv.hpp"

namespace osteofm {
using nlohmann::json;

std::string describe_values(const json& values) {
  std::string out;
  for (auto it = values.begin(); it != values.end(); ++it) {
    const std::string& key = it.key();
    const std::string last = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
    const std::string v = it.value().is_number_float() ? format_double(it.value().get<double>())
                          : it.value().is_string()     ? it.value().get<std::string>()
                                                       : it.value().dump();
    out += (out.empty() ? "" : ", ") + last + "=" + v;
  }
  return out;
}

namespace {
// Calls step(part, is_last) for each part of `path` in turn, until step returns false.
template <class Step>
void for_each_part(const std::string& path, Step&& step) {
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const bool last = dot == std::string::npos;
    if (!step(path.substr(start, last ? std::string::npos : dot - start), start, last) || last) return;
    start = dot + 1;
  }
}
}  // namespace

const json* find_dotted(const json& root, const std::string& path) {
  const json* node = &root;
  for_each_part(path, [&](const std::string& part, size_t, bool) {
    node = node->is_object() && node->contains(part) ? &(*node)[part] : nullptr;
    return node != nullptr;
  });
  return node;
}

json* make_dotted(json& root, const std::string& path, std::string* blocked_at) {
  json* node = &root;
  for_each_part(path, [&](const std::string& part, size_t start, bool) {
    if (node->is_null()) *node = json::object();
    if (!node->is_object()) {
      if (blocked_at) *blocked_at = start == 0 ? std::string() : path.substr(0, start - 1);
      node = nullptr;
      return false;
    }
    node = &(*node)[part];
    return true;
  });
  return node;
}

}  // namespace osteofm
