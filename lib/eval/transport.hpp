// Taking a model to another setting (`osteofm eval --recalibrate / --threshold / --prevalence
// / --baseline`), as ../shared/fixtures/transport/README.md defines it: logistic
// recalibration fitted on validation and applied to test, an operating point fixed in
// advance, PPV and NPV at the target setting's prevalence, and the clinical baseline (a
// logistic model of passed-through covariates such as age and weight, alone and with the
// image model's logit) fitted on validation and compared on test. Plain C++.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/bootstrap.hpp"
#include "eval/predictions.hpp"

namespace osteofm {

struct TransportOptions {
  bool recalibrate = false;                 // --recalibrate logistic
  std::map<int, double> fixed_thresholds;   // endpoint -> threshold, given in advance
  std::optional<double> prevalence;         // the target setting's prevalence, (0, 1)
  std::vector<std::string> baseline_columns;
  BootstrapOptions bootstrap;               // the differences' paired bootstrap (test patients)
  bool cluster = true;
};

// Parses "osteoporosis_vs_rest=0.2" (--threshold); InputError for an unknown endpoint or a
// threshold outside [0, 1].
std::pair<int, double> parse_fixed_threshold(const std::string& spec);

// Checks what needs checking before any statistic: a prevalence in (0, 1); validation given
// where recalibration, prevalence or a baseline need it; every baseline column present and
// numeric (finite) in both files. InputError naming the file, row and column otherwise.
void check_transport(const Predictions& test, const Predictions* validation, const TransportOptions& options);

// Maximum-likelihood logistic regression of y on the columns of X (row-major, n x p, the
// first column the constant), Newton-Raphson with step halving on standardised columns;
// nullopt with `reason` when the maximum does not exist (separation, a constant column).
std::optional<std::vector<double>> fit_logistic_regression(const std::vector<std::vector<double>>& X,
                                                           const std::vector<uint8_t>& y, std::string* reason);

// Adds recalibration, recalibrated, fixed_threshold, at_prevalence and baseline (those asked
// for) to metrics["endpoints"][<endpoint>]; metrics must hold evaluate()'s endpoints.
void add_transport(nlohmann::json& metrics, const Predictions& test, const Predictions* validation,
                   const TransportOptions& options);

}  // namespace osteofm
