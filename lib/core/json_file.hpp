// The one way lib/ reads a JSON file: every error names the file.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace osteofm {

// The JSON in `path`; InputError "<path>: no such file" (core/atomic_file's read_file) or
// "<path>: not valid JSON (<parser's words>)".
nlohmann::json read_json_file(const std::string& path);

// The JSON in `path`, or a discarded value (is_discarded()) when the text is not JSON: for
// callers with their own message, or that rebuild a record an interrupted run left
// half-written. A missing or unreadable file is still an InputError naming it.
nlohmann::json parse_json_file(const std::string& path);

}  // namespace osteofm
