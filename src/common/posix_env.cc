// The real file system. Every error names the path and carries strerror (Status::FromErrno).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "common/env.h"

namespace binlog {
namespace {

Status ErrnoStatus(const char* op, const std::string& path) {
  const int err = errno;
  return Status::FromErrno(err, std::string(op) + " " + path);
}

// Owns a file descriptor; closes it on destruction so no error path can leak one.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now and reports the error close() gives (it can carry a deferred write error).
  int Close() {
    if (fd_ < 0) return 0;
    const int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  int fd_ = -1;
};

Result<UniqueFd> OpenFd(const std::string& path, int flags, mode_t mode = 0644) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoStatus("open", path);
  return UniqueFd(fd);
}

// Writes all of data at offset, retrying short writes and EINTR.
Status PwriteAll(int fd, std::string_view data, uint64_t offset, const std::string& path,
                 uint64_t* written) {
  *written = 0;
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    *written += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, UniqueFd fd, uint64_t size)
      : path_(std::move(path)), fd_(std::move(fd)), size_(size) {}

  // pwrite at our own offset (not O_APPEND) so Truncate can move the next write back.
  Status Append(std::string_view data) override {
    if (!fd_.valid()) return Status::IOError("append " + path_ + ": file is closed");
    uint64_t written = 0;
    Status s = PwriteAll(fd_.get(), data, size_, path_, &written);
    // A partial write did land on disk; Size() must say so, so a caller can truncate it away.
    size_ += written;  // one writer: a plain add; the atomic is for a concurrent Sync's Size()
    return s;
  }

  Status Sync() override {
    if (!fd_.valid()) return Status::IOError("sync " + path_ + ": file is closed");
    if (::fdatasync(fd_.get()) != 0) return ErrnoStatus("fdatasync", path_);
    return Status::OK();
  }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    if (!fd_.valid()) return Status::IOError("write " + path_ + ": file is closed");
    uint64_t written = 0;
    return PwriteAll(fd_.get(), data, offset, path_, &written);
  }

  Status StartWriteBack(uint64_t offset, uint64_t n) override {
    if (!fd_.valid()) return Status::IOError("write back " + path_ + ": file is closed");
    if (::sync_file_range(fd_.get(), static_cast<off_t>(offset), static_cast<off_t>(n),
                          SYNC_FILE_RANGE_WRITE) != 0) {
      return ErrnoStatus("sync_file_range", path_);
    }
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    if (!fd_.valid()) return Status::IOError("truncate " + path_ + ": file is closed");
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
      return ErrnoStatus("ftruncate", path_);
    }
    size_ = size;
    return Status::OK();
  }

  Status Close() override {
    const int err = fd_.Close();
    if (err != 0) return Status::FromErrno(err, "close " + path_);
    return Status::OK();
  }

  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  UniqueFd fd_;
  std::atomic<uint64_t> size_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, UniqueFd fd)
      : path_(std::move(path)), fd_(std::move(fd)) {}

  Result<std::string_view> Read(uint64_t offset, size_t n, char* scratch) const override {
    size_t done = 0;
    while (done < n) {
      const ssize_t got =
          ::pread(fd_.get(), scratch + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("pread", path_);
      }
      if (got == 0) break;  // end of file
      done += static_cast<size_t>(got);
    }
    return std::string_view(scratch, done);
  }

  Result<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return ErrnoStatus("fstat", path_);
    return static_cast<uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  UniqueFd fd_;
};

// flock is tied to the open file description, so closing the fd is the unlock.
class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;
};

// Best effort: the pid the holder wrote, for the error message.
std::string ReadLockHolder(int fd) {
  char buf[32];
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "";
  std::string pid(buf, static_cast<size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  for (char c : pid) {
    if (c < '0' || c > '9') return "";
  }
  return pid;
}

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenFd(path, O_WRONLY | O_CREAT | O_TRUNC));
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, std::move(fd), 0));
  }

  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) override {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenFd(path, O_WRONLY));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("fstat", path);
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, std::move(fd), static_cast<uint64_t>(st.st_size)));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenFd(path, O_RDONLY));
    return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, std::move(fd)));
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<uint64_t> GetFileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path);
    return static_cast<uint64_t>(st.st_size);
  }

  Result<std::vector<std::string>> GetChildren(const std::string& dir) override {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
    if (!d) return ErrnoStatus("opendir", dir);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d.get())) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    if (errno != 0) return ErrnoStatus("readdir", dir);
    return names;
  }

  Status CreateDirs(const std::string& dir) override;

  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("unlink", path);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename", from + " to " + to);
    return Status::OK();
  }

  Status CopyFile(const std::string& from, const std::string& to) override;

  Status SyncDir(const std::string& dir) override {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenFd(dir, O_RDONLY | O_DIRECTORY));
    if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync directory", dir);
    return Status::OK();
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

  Result<uint64_t> GetFreeSpace(const std::string& path) override {
    struct statvfs st;
    if (::statvfs(path.c_str(), &st) != 0) return ErrnoStatus("statvfs", path);
    return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
  }

  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

Status PosixEnv::CreateDirs(const std::string& dir) {
  // Walk down from the root so each missing parent is made in order.
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) == 0 || errno == EEXIST) continue;
    return ErrnoStatus("mkdir", prefix);
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoStatus("stat", dir);
  if (!S_ISDIR(st.st_mode))
    return Status::IOError("mkdir " + dir + ": exists and is not a directory");
  return Status::OK();
}

Status PosixEnv::CopyFile(const std::string& from, const std::string& to) {
  ASSIGN_OR_RETURN(UniqueFd in, OpenFd(from, O_RDONLY));
  ASSIGN_OR_RETURN(UniqueFd out, OpenFd(to, O_WRONLY | O_CREAT | O_TRUNC));
  char buf[64 * 1024];
  uint64_t offset = 0;
  for (;;) {
    const ssize_t n = ::read(in.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", from);
    }
    if (n == 0) break;
    uint64_t written = 0;
    RETURN_IF_ERROR(
        PwriteAll(out.get(), std::string_view(buf, static_cast<size_t>(n)), offset, to, &written));
    offset += written;
  }
  // The copy is evidence kept before a repair; it must not be lost when the repair survives.
  if (::fdatasync(out.get()) != 0) return ErrnoStatus("fdatasync", to);
  const int err = out.Close();
  if (err != 0) return Status::FromErrno(err, "close " + to);
  return Status::OK();
}

Result<std::unique_ptr<FileLock>> PosixEnv::LockFile(const std::string& path) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFd(path, O_RDWR | O_CREAT));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return ErrnoStatus("flock", path);
    const std::string pid = ReadLockHolder(fd.get());
    return Status::Busy(path + " is locked by another process" +
                        (pid.empty() ? std::string() : " (pid " + pid + ")"));
  }
  // The pid only helps the operator reading a Busy error; failing to write it is harmless.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) {
    uint64_t written = 0;
    PwriteAll(fd.get(), pid, 0, path, &written).IgnoreError();
  }
  return std::unique_ptr<FileLock>(new PosixFileLock(std::move(fd)));
}

}  // namespace

Env* Env::Posix() {
  static PosixEnv env;
  return &env;
}

}  // namespace binlog
