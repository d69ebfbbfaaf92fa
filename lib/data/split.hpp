// Stratified, patient-level, seeded splits (design.md: splits are patient-disjoint).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/random.hpp"
#include "io/manifest.hpp"

namespace osteofm {

struct SplitRatios {
  double train = 0.7, val = 0.1, test = 0.2;
};

// Parses "0.7,0.1,0.2" (must be three non-negative numbers summing to 1 within 1e-6).
// Errors name `option` (the flag the text came from) and what the three numbers are.
SplitRatios parse_split_ratios(const std::string& text, const std::string& option = "--ratios",
                               const std::string& parts = "train,val,test");

// Assigns every patient to train/val/test. Patients are stratified by their most
// severe label (unknown labels form their own stratum); within a stratum, patients
// sorted by id are shuffled with a portable RNG (SplitMix64, not std::shuffle, whose
// algorithm differs between standard libraries) and cut by largest-remainder counts.
// Same manifest content + ratios + seed => the same split on every platform, whatever
// the row order.
// `linked`: pairs of patients that must share a split (the same radiograph filed under
// both ids); each linked group is placed as one patient, by its smallest id.
std::map<std::string, std::string> assign_patient_splits(
    const Manifest& manifest, const SplitRatios& ratios, uint64_t seed,
    const std::vector<std::pair<std::string, std::string>>& linked = {});

// Sets every row's split from the patient map.
void apply_splits(Manifest& manifest, const std::map<std::string, std::string>& patient_split);

// assign_patient_splits + apply_splits, after refusing a manifest whose rows cannot be
// placed: any parse error but the old split's own (leakage, bad_split) is an InputError
// with that row's message. Returns the patient -> split map.
// Patients whose rows hold byte-identical files are linked (one split for both), and each
// such pair is described in `duplicates` when given ("...; both patients kept in one split").
std::map<std::string, std::string> split_manifest(Manifest& manifest, const SplitRatios& ratios, uint64_t seed,
                                                  std::vector<std::string>* duplicates = nullptr);

}  // namespace osteofm
