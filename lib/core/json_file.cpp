#include "core/json_file.hpp"

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace osteofm {

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not valid JSON (" + one_line(e.what()) + ")");
  }
}

nlohmann::json parse_json_file(const std::string& path) {
  return nlohmann::json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
}

}  // namespace osteofm
