// provenance.json: what made a folder of results — osteofm's version and commit, the
// command line, when, on which machine (CPU, memory, GPU, the libraries the binary was
// built with: filled in by the app through set_process_facts), and every input file with
// its size, modification time and SHA-256.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace osteofm {

std::string osteofm_commit();

// Now, UTC, as "2026-12-06T07:15:00Z" (every record's timestamps).
std::string utc_timestamp();  // git commit of the build ("unknown" outside a checkout), "-dirty" when edited

// Set once by the app at start-up: the command line, and how to gather the facts only it
// can (LibTorch and CUDA, BLAS, OpenCV, DCMTK, GDCM versions, threads). The facts are
// gathered when the first record is written, not at start-up: finding the BLAS library
// multiplies a matrix and counting CUDA devices starts CUDA, which a verb that writes no
// record (eval, table, data check) must not pay for.
void set_command_line(int argc, char** argv);
void set_process_facts(std::function<nlohmann::json()> gather);
std::string command_line();

struct ProvenanceInput {
  std::string role;  // "manifest", "weights:dinov2", ...
  std::string path;
  bool hash = true;  // false: size and time only (a checkpoint already hashed in the study's record)
};

// One input's record: {role, path, size, mtime, sha256} (a missing file: {role, path, missing: true}).
// Hashes are remembered per path, size and time within the process.
nlohmann::json provenance_of_file(const ProvenanceInput& input);

// The whole record; `extra` is merged in at the top level.
nlohmann::json provenance_record(const std::vector<ProvenanceInput>& inputs, const nlohmann::json& extra = {});
// DIR/provenance.json, atomically. Returns its path.
std::string write_provenance(const std::string& dir, const std::vector<ProvenanceInput>& inputs,
                             const nlohmann::json& extra = {});

// How osteofm turns DICOM pixels into the image it reads (stated in every record that
// involves images).
const char* dicom_windowing_policy();

}  // namespace osteofm
