// DICOM decoding with DCMTK; JPEG 2000 (which the free DCMTK cannot decode) through
// GDCM/OpenJPEG, its decoded pixels handed back to DCMTK so every file goes through one
// and the same LUT chain (docs: ../shared/docs/dicom.md).
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>
#include <gdcmImageReader.h>
#include <gdcmTrace.h>
#include <gdcmVersion.h>

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <mutex>

#include "core/error.hpp"
#include "core/text.hpp"
#include "io/image.hpp"

namespace osteofm {

namespace {
void register_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK's warnings go to stderr by default; osteofm reports problems itself, one line each.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    gdcm::Trace::DebugOff();  // GDCM (and the OpenJPEG it drives) likewise
    gdcm::Trace::WarningOff();
    gdcm::Trace::ErrorOff();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

bool is_jpeg2000(E_TransferSyntax x) {
  return x == EXS_JPEG2000LosslessOnly || x == EXS_JPEG2000 || x == EXS_JPEG2000MulticomponentLosslessOnly ||
         x == EXS_JPEG2000Multicomponent;
}

std::string xfer_label(E_TransferSyntax x) {
  DcmXfer d(x);
  return std::string(d.getXferName()) + " (" + d.getXferID() + ")";
}

// GDCM hands OpenJPEG an error handler that fprintf's to stderr (gdcmJPEG2000Codec.cxx,
// gdcm_error_callback), which no GDCM switch turns off. While GDCM decodes, file
// descriptor 2 is pointed at a temporary file: the codec's words become the detail of
// our own one-line error. Decodes that capture are serialised; what other threads wrote to
// stderr meanwhile is written back after a successful decode (the codec says nothing then).
class StderrCapture {
 public:
  StderrCapture() : lock_(mutex()) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    FILE* f = std::tmpfile();
    if (saved_ < 0 || !f) {
      if (f) std::fclose(f);
      if (saved_ >= 0) ::close(saved_);
      saved_ = -1;
      return;  // nothing captured: the codec's words reach the terminal, the error is still ours
    }
    file_ = f;
    ::dup2(::fileno(file_), 2);
  }
  ~StderrCapture() { finish(); }
  // Restores stderr and returns what was written to it meanwhile.
  std::string finish() {
    std::string text;
    if (!file_) return text;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    std::rewind(file_);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;) text.append(buf, n);
    std::fclose(file_);
    file_ = nullptr;
    return text;
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  std::lock_guard<std::mutex> lock_;
  int saved_ = -1;
  FILE* file_ = nullptr;
};

// The codec's first line, as the detail of an error ("" when it said nothing).
std::string first_line(const std::string& text) {
  const std::string head = text.substr(0, text.find('\n'));
  const std::string line(trim(head));
  return line.empty() ? "" : " (OpenJPEG: " + line + ")";
}

// Replaces the encapsulated JPEG 2000 pixel data by GDCM's decoded native pixels.
void decode_jpeg2000_with_gdcm(const std::string& path, DcmDataset* ds, E_TransferSyntax xfer) {
  gdcm::ImageReader reader;
  reader.SetFileName(path.c_str());
  std::vector<char> buffer;
  bool decoded = false;
  {
    StderrCapture capture;
    const bool parsed = reader.Read();
    if (parsed) {
      buffer.resize(reader.GetImage().GetBufferLength());
      decoded = !buffer.empty() && reader.GetImage().GetBuffer(buffer.data());
    }
    const std::string said = capture.finish();
    if (!parsed) throw InputError(path + ": " + xfer_label(xfer) + ": GDCM cannot parse the file" + first_line(said));
    if (!decoded)
      throw InputError(path + ": " + xfer_label(xfer) + " pixel data cannot be decoded (truncated or corrupt)" +
                       first_line(said));
    if (!said.empty()) std::fwrite(said.data(), 1, said.size(), stderr);  // another thread's words
  }
  const gdcm::Image& gi = reader.GetImage();
  const unsigned bits = gi.GetPixelFormat().GetBitsAllocated();
  OFCondition st;
  if (bits == 8)
    st = ds->putAndInsertUint8Array(DCM_PixelData, reinterpret_cast<const Uint8*>(buffer.data()), buffer.size());
  else if (bits == 16)
    st = ds->putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(buffer.data()), buffer.size() / 2);
  else
    throw InputError(path + ": " + xfer_label(xfer) + " with " + std::to_string(bits) + " bits allocated is not supported");
  if (st.bad()) throw RuntimeFailure(path + ": cannot store decoded pixels: " + st.text());
  // GDCM may convert the photometric interpretation (e.g. YBR_ICT to RGB) while decoding.
  ds->putAndInsertString(DCM_PhotometricInterpretation, gi.GetPhotometricInterpretation().GetString());
}

Uint16 get_u16(DcmDataset* ds, const DcmTagKey& tag, const std::string& path, const char* name) {
  Uint16 v = 0;
  if (ds->findAndGetUint16(tag, v).bad()) throw InputError(path + ": DICOM attribute " + name + " is missing");
  return v;
}
}  // namespace

GrayImage read_dicom(const std::string& path) {
  register_codecs();
  DcmFileFormat ff;
  OFCondition st = ff.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
  if (st.bad()) throw InputError(path + ": not a readable DICOM file: " + st.text());
  DcmDataset* ds = ff.getDataset();
  const E_TransferSyntax xfer = ds->getOriginalXfer();
  // A transfer syntax UID DCMTK does not know: it reads the data set by detection (explicit
  // or implicit VR, little endian), which is right for a private name of a native encoding
  // and wrong for anything compressed. Said, not silent.
  std::vector<std::string> warnings;
  std::string unknown_uid;
  {
    OFString uid;
    if (ff.getMetaInfo() && ff.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid).good() && !uid.empty() &&
        DcmXfer(uid.c_str()).getXfer() == EXS_Unknown) {
      unknown_uid = uid.c_str();
      warnings.push_back("unknown DICOM transfer syntax " + unknown_uid + ", read as " + DcmXfer(xfer).getXferName() +
                         " (detected from the data)");
    }
  }
  const Uint16 rows = get_u16(ds, DCM_Rows, path, "Rows");
  const Uint16 cols = get_u16(ds, DCM_Columns, path, "Columns");
  const Uint16 bits_alloc = get_u16(ds, DCM_BitsAllocated, path, "BitsAllocated");
  Uint16 bits_stored = bits_alloc;
  ds->findAndGetUint16(DCM_BitsStored, bits_stored);
  Uint16 spp = 1;
  ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
  DcmElement* pixel = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, pixel).bad() || pixel == nullptr)
    throw InputError(path + ": no pixel data");
  if (rows == 0 || cols == 0) throw InputError(path + ": image has zero rows or columns");
  {
    Sint32 frames = 1;
    ds->findAndGetSint32(DCM_NumberOfFrames, frames);
    check_pixel_limit(path, cols, rows, frames);  // before any pixel is decompressed
  }

  E_TransferSyntax decoded = xfer;
  if (DcmXfer(xfer).isEncapsulated()) {
    if (is_jpeg2000(xfer)) {
      decode_jpeg2000_with_gdcm(path, ds, xfer);
      decoded = EXS_LittleEndianExplicit;
    } else {
      st = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
      if (st.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
        throw InputError(path + ": transfer syntax " + xfer_label(xfer) + " cannot be decoded" +
                         (st.bad() ? std::string(": ") + st.text() : std::string(" by this build")));
      decoded = EXS_LittleEndianExplicit;
    }
  } else {
    // DCMTK pads short native pixel data with zeros and carries on; a truncated file
    // must be an error, not a silently black image.
    Sint32 frames = 1;
    ds->findAndGetSint32(DCM_NumberOfFrames, frames);
    if (frames < 1) frames = 1;
    const unsigned long long expected =
        static_cast<unsigned long long>(rows) * cols * spp * ((bits_alloc + 7) / 8) * static_cast<unsigned long long>(frames);
    const unsigned long long have = pixel->getLength();
    if (bits_alloc % 8 == 0 && have < expected && !unknown_uid.empty())
      throw InputError(path + ": unknown DICOM transfer syntax " + unknown_uid +
                       ": its pixel data is not in a native encoding osteofm can read");
    if (bits_alloc % 8 == 0 && have < expected)
      throw InputError(path + ": pixel data has " + std::to_string(have) + " bytes, " + std::to_string(expected) +
                       " expected (truncated file)");
  }

  auto image = std::make_unique<DicomImage>(ds, decoded, CIF_MayDetachPixelData, 0, 1);
  if (image->getStatus() != EIS_Normal)
    throw InputError(path + ": DICOM image cannot be rendered: " + DicomImage::getString(image->getStatus()));
  if (!image->isMonochrome()) {
    std::unique_ptr<DicomImage> mono(image->createMonochromeImage());
    if (!mono) throw InputError(path + ": colour DICOM cannot be converted to grayscale");
    image = std::move(mono);
  }
  GrayImage out;
  out.format = ImageFormat::Dicom;
  out.decoder_warnings = warnings;
  out.source_bits = bits_stored;
  out.channels = spp;
  auto text = [&](const DcmTagKey& tag) {
    OFString v;
    return ds->findAndGetOFString(tag, v).good() ? std::string(v.c_str()) : std::string();
  };
  out.modality = text(DCM_Modality);
  out.body_part = text(DCM_BodyPartExamined);
  out.view_position = text(DCM_ViewPosition);
  out.photometric = text(DCM_PhotometricInterpretation);
  out.sop_instance_uid = text(DCM_SOPInstanceUID);
  out.patient_id = text(DCM_PatientID);
  out.accession = text(DCM_AccessionNumber);
  out.study_date = text(DCM_StudyDate);
  out.width = static_cast<int>(image->getWidth());
  out.height = static_cast<int>(image->getHeight());
  // VOI: an explicit VOI LUT wins over a window (as pydicom's prefer_lut); without
  // either, DCMTK maps the whole range the modality output can take, so a 10-bit image
  // keeps its 10-bit scale instead of being stretched to its own min and max.
  if (image->getVoiLutCount() > 0 && image->setVoiLut(0)) {
    out.voi = "lut";
  } else if (image->getWindowCount() > 0 && image->setWindow(0)) {
    out.voi = "window";
  } else {
    image->setNoVoiTransformation();
    out.voi = "range";
  }
  // MONOCHROME1 is inverted by DCMTK's rendering (presentation as MONOCHROME2): bone bright.
  const void* data = image->getOutputData(16, 0, 0);
  if (!data) throw InputError(path + ": DICOM pixel data cannot be rendered: " + DicomImage::getString(image->getStatus()));
  const Uint16* p = static_cast<const Uint16*>(data);
  const size_t n = static_cast<size_t>(out.width) * out.height;
  out.pixels.resize(n);
  for (size_t i = 0; i < n; ++i) out.pixels[i] = static_cast<float>(p[i]) / 65535.0f;
  return out;
}

std::string dcmtk_version() { return OFFIS_DCMTK_VERSION_STRING; }
std::string gdcm_version() { return gdcm::Version::GetVersion(); }

}  // namespace osteofm
