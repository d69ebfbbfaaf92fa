// Atomic file writes: a result file is either the old one or the complete new one,
// never half-written, even if the process is killed mid-write.
#pragma once
#include <string>
#include <string_view>

namespace osteofm {

// Writes `data` to a temporary file beside `path`, flushes it to disk, then renames it
// over `path` (rename is atomic on POSIX within one file system). Creates missing
// parent folders. Throws RuntimeFailure on I/O errors, with the path in the message.
void write_file_atomic(const std::string& path, std::string_view data);

// Reads a whole file; throws InputError naming the file if it is missing or unreadable.
std::string read_file(const std::string& path);

// What a file is now, to tell whether a result made from it is stale: its size and
// modification time (exists false, the rest 0, when it cannot be stat'ed).
struct FileStamp {
  bool exists = false;
  unsigned long long size = 0;
  long long mtime = 0;  // the file clock's ticks
  bool operator==(const FileStamp& o) const { return exists == o.exists && size == o.size && mtime == o.mtime; }
};
FileStamp file_stamp(const std::string& path);

// Removes the atomic writers' temporaries (*.tmp.<pid>.<n>) in `dir` whose process is gone
// (a kill mid-write leaves them); every folder osteofm writes into calls it before writing.
// Returns how many were removed.
int remove_stale_temporaries(const std::string& dir);

}  // namespace osteofm

namespace osteofm {

// Streams a large file to a temporary beside `path`; commit() flushes and renames it
// into place. Destroyed without commit() (an exception, a crash), the temporary is
// removed and `path` is untouched.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  void write(const void* data, size_t size);
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

}  // namespace osteofm
