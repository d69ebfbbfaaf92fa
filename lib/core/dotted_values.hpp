// Config values keyed by dotted paths ({"train.lr_body": 1e-05, "strategy.rank": 8}), as a
// sweep's grid points and their selection record hold them.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "core/csv.hpp"

namespace osteofm {

// "lr_body=1e-05, rank=8": the values for tables and logs (each key's last part only).
inline std::string describe_values(const nlohmann::json& values) {
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

}  // namespace osteofm
