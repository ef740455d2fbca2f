// An Env for tests that injects failures and simulates a crash (RocksDB's FaultInjectionTestFS).
//
// It wraps a real Env and remembers, per file, how many bytes were synced, and per directory,
// which creates, renames and deletes were not yet followed by SyncDir. Crash() then makes the
// disk look as it would after power loss: unsynced bytes are cut off, bytes written over since
// the last sync get their old content back, files created since the last directory sync vanish,
// renames since then are undone, deletes since then are undone when the bytes are still known.
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/env.h"

namespace binlog {

class FaultInjectionEnv : public Env {
 public:
  enum class Op { kWrite, kSync };

  explicit FaultInjectionEnv(Env* base);
  ~FaultInjectionEnv() override;
  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  // The nth (1-based, counted from now) Append (kWrite) or Sync/SyncDir (kSync) fails with the
  // errno (ENOSPC or EIO) and so does every later one of that kind, until ClearFaults(). A failed
  // Append writes nothing.
  void FailNth(Op op, int nth, int err);
  void ClearFaults();

  // Simulates power loss as described above. Open handles must not be used afterwards.
  Status Crash();

  // A settable clock; while unset, the base Env's clock is used.
  void SetNowMicros(int64_t micros);
  // Reported by GetFreeSpace instead of the real file system's figure; negative: the real one.
  void SetFreeSpace(int64_t bytes);

  // Number of Append calls and Sync calls seen so far (to pick a random crash point).
  int64_t write_count() const;
  int64_t sync_count() const;

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  Result<uint64_t> GetFileSize(const std::string& path) override;
  Result<std::vector<std::string>> GetChildren(const std::string& dir) override;
  Status CreateDirs(const std::string& dir) override;
  Status DeleteFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status CopyFile(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;
  Result<uint64_t> GetFreeSpace(const std::string& path) override;
  int64_t NowMicros() override;

  // Internal: called by the wrapped file handles.
  struct State;

 private:
  Env* base_;
  std::unique_ptr<State> state_;
};

}  // namespace binlog
