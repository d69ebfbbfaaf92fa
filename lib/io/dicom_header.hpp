// The header of one DICOM file, for the image index (osteofm data index): who, when, what
// (modality, body part, view), which machine, the pixel geometry, read without decoding
// pixel data. Never throws for a file that is not DICOM or is damaged: `status` says so.
#pragma once
#include <string>
#include <vector>

namespace osteofm {

struct DicomHeader {
  // "ok", or why not: "not_dicom", "unreadable: <reason>", "no_pixel_data",
  // "truncated: <reason>" (the first word is the stable key).
  std::string status = "ok";
  std::string sop_instance_uid, patient_id, accession;
  std::string study_date;  // YYYY-MM-DD (StudyDate; else SeriesDate, AcquisitionDate, ContentDate, with a warning)
  std::string modality, body_part, view_position, sex, manufacturer, model, photometric;
  std::string age;            // years: PatientAge ("065Y" -> 65, "006M" -> 0.5), else birth date to study date
  std::string pixel_spacing;  // "row\col" in mm: PixelSpacing, else ImagerPixelSpacing
  int rows = 0, columns = 0, bits_stored = 0;
  // Why this may not belong in a chest-radiograph cohort: "lateral", "not_chest",
  // "not_cr_dx", and what was missing or guessed ("no_study_date", "study_date_from_...").
  std::vector<std::string> warnings;
};

DicomHeader read_dicom_header(const std::string& path);

}  // namespace osteofm
