#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace osteofm {
namespace fs = std::filesystem;

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  static std::atomic<unsigned> counter{0};
  // rename() replaces whatever has the name: a device node (/dev/null, as root), a FIFO, a
  // symbolic link (not what it points to). Only a regular file, or nothing, is replaced.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    const char* what = S_ISLNK(st.st_mode)    ? "a symbolic link"
                       : S_ISDIR(st.st_mode)  ? "a folder"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                     : "not a regular file";
    throw InputError(path_ + ": exists and is " + what + "; osteofm replaces only regular files (give another path)");
  }
  fs::path target(path_);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw RuntimeFailure(path_ + ": cannot create folder: " + ec.message());
  }
  tmp_ = path_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw RuntimeFailure(path_ + ": cannot write: " + std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t size) {
  if (fd_ < 0) throw RuntimeFailure(path_ + ": write after commit");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw RuntimeFailure(path_ + ": write failed: " + std::strerror(errno));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) throw RuntimeFailure(path_ + ": committed twice");
  int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    ::unlink(tmp_.c_str());
    throw RuntimeFailure(path_ + ": cannot flush: " + why);
  }
  if (::close(fd) != 0 || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp_.c_str());
    throw RuntimeFailure(path_ + ": cannot replace: " + why);
  }
}

void write_file_atomic(const std::string& path, std::string_view data) {
  AtomicFileWriter out(path);
  out.write(data.data(), data.size());
  out.commit();
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path + ": no such file");
  if (fs::is_directory(path, ec)) throw InputError(path + ": is a folder, not a file");
  // A FIFO or device would block the reader forever.
  if (!fs::is_regular_file(path, ec)) throw InputError(path + ": not a regular file (a pipe or device?)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(path + ": read error");
  return ss.str();
}

FileStamp file_stamp(const std::string& path) {
  std::error_code ec;
  FileStamp s;
  const auto size = fs::file_size(path, ec);
  if (ec) return s;
  const auto mtime = fs::last_write_time(path, ec);
  if (ec) return s;
  s.exists = true;
  s.size = size;
  s.mtime = static_cast<long long>(mtime.time_since_epoch().count());
  return s;
}

int remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos || !e.is_regular_file(ec)) continue;
    const std::string rest = name.substr(at + 5);  // <pid>.<n>
    const auto dot = rest.find('.');
    if (dot == std::string::npos || dot == 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(rest.substr(0, dot).c_str(), &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // still alive
    if (fs::remove(e.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace osteofm
