// An estimate with its interval as every console line, table cell and legend prints it:
// "0.812 [0.771, 0.850]". One formatter, so that a table and the line that announced it
// never disagree in a digit.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace osteofm {

// `value` with `decimals` places, then " [lower, upper]" when both are given, else
// `no_interval` ("" or " [no interval]").
std::string interval_text(double value, std::optional<double> lower, std::optional<double> upper, int decimals = 3,
                          const std::string& no_interval = "");
// The same from a {"estimate": x, "ci": [lower, upper]} block as the JSON results hold it;
// "n/a" when there is no estimate, and "n/a" for a bound that is not a number.
std::string interval_text(const nlohmann::json& block, int decimals = 3, const std::string& no_interval = "");

}  // namespace osteofm
