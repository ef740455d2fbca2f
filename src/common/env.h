// The file-system interface all file I/O goes through, so tests can inject faults and crashes.
//
// PosixEnv is the real one. FaultInjectionEnv (fault_env.h) wraps another Env and can fail the
// Nth write or sync with ENOSPC/EIO, or "crash": forget every byte, create and rename that was
// not made durable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace binlog {

// A file opened for appending. Not thread-safe: one writer at a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends at the end of the file. A short write is an error, never silent.
  virtual Status Append(std::string_view data) = 0;
  // Makes the appended data durable (fdatasync). May run while another thread appends: it
  // covers at least what was appended before the call.
  virtual Status Sync() = 0;
  // Cuts the file to `size` bytes; the next Append goes there.
  virtual Status Truncate(uint64_t size) = 0;
  // Writes data at offset without moving where Append writes (Size() is unchanged): a
  // journal writes zeros past its data ahead of time (see journal::Preallocator). Unsupported
  // unless the file system below is a real one.
  virtual Status WriteAt(uint64_t offset, std::string_view data) {
    (void)offset;
    (void)data;
    return Status::Unsupported("WriteAt on " + path());
  }
  // Starts writing the range's dirty pages to the disk without waiting for them
  // (sync_file_range): the next Sync has less left to flush. Promises nothing about durability.
  // A no-op where unsupported.
  virtual Status StartWriteBack(uint64_t offset, uint64_t n) {
    (void)offset;
    (void)n;
    return Status::OK();
  }
  virtual Status Close() = 0;
  // Bytes in the file as this handle sees them (what was there when opened + appended).
  virtual uint64_t Size() const = 0;
  virtual const std::string& path() const = 0;
};

// A file opened for positional reads. Thread-safe.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into scratch; returns the bytes read (fewer at end of file).
  virtual Result<std::string_view> Read(uint64_t offset, size_t n, char* scratch) const = 0;
  // The file's current size (it may grow while a writer appends).
  virtual Result<uint64_t> Size() const = 0;
  virtual const std::string& path() const = 0;
};

// Held while a directory is owned by one writer; releasing it unlocks.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // Creates (or truncates) a file for appending. The new name is durable only after SyncDir.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Opens an existing file to append after its current end.
  virtual Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;

  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> GetFileSize(const std::string& path) = 0;
  // Names (not paths) of the entries in dir, without "." and "..", unsorted.
  virtual Result<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  // Creates dir and its missing parents; existing is fine.
  virtual Status CreateDirs(const std::string& dir) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  // Atomically replaces `to`. Durable only after SyncDir of the parent.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Copies a file's bytes (used to keep a damaged file as evidence before repairing it).
  virtual Status CopyFile(const std::string& from, const std::string& to) = 0;
  // fsync of the directory: makes creates, renames and unlinks in it durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Takes an exclusive advisory lock on path (created if missing); Busy if another holds it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
  // Bytes available to an unprivileged user on the file system holding path.
  virtual Result<uint64_t> GetFreeSpace(const std::string& path) = 0;

  // Wall clock, microseconds since the Unix epoch. Tests substitute a fake clock.
  virtual int64_t NowMicros() = 0;

  // The process-wide real file system. It holds no mutable state.
  static Env* Posix();
};

// Reads a whole file (small files only: configs, meta, golden files).
Result<std::string> ReadFileToString(Env* env, const std::string& path);
// Writes data to path atomically: write <path>.tmp, sync, rename, sync the directory.
Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data);

// "dir/name" without doubling the slash.
std::string JoinPath(std::string_view dir, std::string_view name);
// The directory part of a path ("." when there is none).
std::string DirName(std::string_view path);
// The last component of a path.
std::string BaseName(std::string_view path);

}  // namespace binlog
