// Config values keyed by dotted paths ({"train.lr_body": 1e-05, "strategy.rank": 8}), as a
// sweep's grid points and their selection record hold them, and the one walker of such
// paths through a JSON document.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace osteofm {

// "lr_body=1e-05, rank=8": the values for tables and logs (each key's last part only).
std::string describe_values(const nlohmann::json& values);

// The value at a dotted path ("train.epochs"), or nullptr when a part is missing or the
// walk meets something other than an object on the way.
const nlohmann::json* find_dotted(const nlohmann::json& root, const std::string& path);

// The node at a dotted path, made on the way (a missing or null part becomes an object).
// nullptr when a part before the last holds a value (a number, a string, ...): that part's
// dotted path is then put in `blocked_at` when given.
nlohmann::json* make_dotted(nlohmann::json& root, const std::string& path, std::string* blocked_at = nullptr);

}  // namespace osteofm
