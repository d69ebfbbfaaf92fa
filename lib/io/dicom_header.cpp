#include "io/dicom_header.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/oflog/oflog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "core/civil_date.hpp"
#include "core/text.hpp"
#include "io/image.hpp"

namespace osteofm {

namespace {

std::string text_of(DcmDataset* ds, const DcmTagKey& tag) {
  OFString v;
  if (ds->findAndGetOFStringArray(tag, v).bad()) return std::string();
  std::string s = v.c_str();
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  size_t a = 0;
  while (a < s.size() && s[a] == ' ') ++a;
  return s.substr(a);
}

bool has_dicm_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[132];
  if (!in.read(buf, sizeof buf)) return false;
  return buf[128] == 'D' && buf[129] == 'I' && buf[130] == 'C' && buf[131] == 'M';
}

// PatientAge (AS): "nnnD", "nnnW", "nnnM" or "nnnY", in years.
std::string age_from_as(const std::string& as) {
  if (as.size() != 4) return std::string();
  for (int i = 0; i < 3; ++i)
    if (as[i] < '0' || as[i] > '9') return std::string();
  const int n = std::stoi(as.substr(0, 3));
  double years = 0;
  switch (std::toupper(static_cast<unsigned char>(as[3]))) {
    case 'Y': return std::to_string(n);
    case 'M': years = n / 12.0; break;
    case 'W': years = n * 7 / 365.25; break;
    case 'D': years = n / 365.25; break;
    default: return std::string();
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", years);
  return buf;
}

void configure_logging_once() {
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

}  // namespace

DicomHeader read_dicom_header(const std::string& path) {
  configure_logging_once();
  DicomHeader h;
  const bool magic = has_dicm_magic(path);
  DcmFileFormat ff;
  // Values longer than 256 bytes (the pixel data, an icon, a private blob) stay on disk
  // (maxReadLength): the index reads headers, not images.
  const OFCondition st = ff.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 256, ERM_autoDetect);
  DcmDataset* ds = ff.getDataset();
  auto has = [&](const DcmTagKey& tag) { return ds != nullptr && ds->tagExists(tag); };
  // A file without the DICM preamble is DICOM only if it parses into a data set that
  // says what it is (DCMTK's detection reads almost any bytes as some element).
  const bool looks_dicom = magic || (st.good() && (has(DCM_SOPInstanceUID) || has(DCM_SOPClassUID)) &&
                                     (has(DCM_Modality) || has(DCM_Rows)));
  if (!looks_dicom) {
    // A .dcm file that does not parse is a damaged DICOM, not some other file.
    std::string ext = to_upper(std::filesystem::path(path).extension().string());
    h.status = ext == ".DCM" || ext == ".DICOM" || ext == ".DIC"
                   ? "unreadable: no DICOM preamble and no data set that parses"
                   : "not_dicom";
    return h;
  }
  if (st.bad()) {
    h.status = std::string("unreadable: ") + st.text();
    if (ds == nullptr) return h;
  }
  h.sop_instance_uid = text_of(ds, DCM_SOPInstanceUID);
  h.patient_id = text_of(ds, DCM_PatientID);
  h.accession = text_of(ds, DCM_AccessionNumber);
  h.modality = to_upper(text_of(ds, DCM_Modality));
  h.body_part = to_upper(text_of(ds, DCM_BodyPartExamined));
  h.view_position = to_upper(text_of(ds, DCM_ViewPosition));
  h.sex = to_upper(text_of(ds, DCM_PatientSex));
  h.manufacturer = text_of(ds, DCM_Manufacturer);
  h.model = text_of(ds, DCM_ManufacturerModelName);
  h.photometric = text_of(ds, DCM_PhotometricInterpretation);
  h.pixel_spacing = text_of(ds, DCM_PixelSpacing);
  if (h.pixel_spacing.empty()) h.pixel_spacing = text_of(ds, DCM_ImagerPixelSpacing);
  Uint16 v = 0;
  if (ds->findAndGetUint16(DCM_Rows, v).good()) h.rows = v;
  if (ds->findAndGetUint16(DCM_Columns, v).good()) h.columns = v;
  if (ds->findAndGetUint16(DCM_BitsStored, v).good()) h.bits_stored = v;

  std::optional<CivilDate> study;
  const std::pair<DcmTagKey, const char*> dates[] = {{DCM_StudyDate, ""},
                                                     {DCM_SeriesDate, "study_date_from_series_date"},
                                                     {DCM_AcquisitionDate, "study_date_from_acquisition_date"},
                                                     {DCM_ContentDate, "study_date_from_content_date"}};
  for (const auto& [tag, warning] : dates) {
    study = parse_dicom_date(text_of(ds, tag));
    if (!study) continue;
    if (*warning) h.warnings.push_back(warning);
    break;
  }
  if (study) h.study_date = study->iso();
  else h.warnings.push_back("no_study_date");
  h.age = age_from_as(to_upper(text_of(ds, DCM_PatientAge)));
  if (h.age.empty() && study)
    if (const auto birth = parse_dicom_date(text_of(ds, DCM_PatientBirthDate)); birth && birth->day_number() <= study->day_number())
      h.age = std::to_string(whole_years_between(*birth, *study));

  if (const std::string view = non_frontal_view(h.view_position); !view.empty()) h.warnings.push_back(view);
  if (!is_chest_body_part(h.body_part)) h.warnings.push_back("not_chest");
  if (!is_radiograph_modality(h.modality)) h.warnings.push_back("not_cr_dx");
  if (h.patient_id.empty()) h.warnings.push_back("no_patient_id");
  if (h.status != "ok") return h;

  // Pixel data: present, and for a native encoding as long as the geometry says.
  DcmElement* pixel = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, pixel).bad() || pixel == nullptr) {
    h.status = "no_pixel_data";
    return h;
  }
  Uint16 alloc = 0, spp = 1;
  ds->findAndGetUint16(DCM_BitsAllocated, alloc);
  ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
  Sint32 frames = 1;
  ds->findAndGetSint32(DCM_NumberOfFrames, frames);
  if (!DcmXfer(ds->getOriginalXfer()).isEncapsulated() && alloc % 8 == 0 && alloc > 0) {
    const unsigned long long expected = static_cast<unsigned long long>(h.rows) * h.columns * spp * (alloc / 8) *
                                        static_cast<unsigned long long>(std::max<Sint32>(frames, 1));
    std::error_code ec;
    const auto file_size = std::filesystem::file_size(path, ec);
    if (pixel->getLength() < expected || (!ec && file_size < expected))
      h.status = "truncated: pixel data shorter than its " + std::to_string(h.rows) + " x " + std::to_string(h.columns) +
                 " x " + std::to_string(alloc) + "-bit geometry";
  }
  return h;
}

}  // namespace osteofm
