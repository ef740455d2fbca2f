#include "common/fault_env.h"

#include <errno.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

namespace binlog {

namespace {

// What a crash would leave of one file's bytes; shared with its open handles so a rename,
// which moves the entry to a new path, keeps the handles' syncs counting.
struct FileState {
  uint64_t synced = 0;
  // What writes since the last sync replaced below `synced`, oldest first: a crash puts it
  // back, so a write over preallocated zeros is lost like one past the end.
  struct Overwrite {
    uint64_t seq;  // from next_overwrite: a sync drops those that came before it began
    uint64_t offset;
    std::string old;
  };
  std::vector<Overwrite> overwritten;
  uint64_t next_overwrite = 0;
};

// A namespace change not yet made durable by SyncDir of `dir`; Crash undoes these newest first.
struct PendingOp {
  enum class Kind { kCreate, kRename, kDelete };
  Kind kind;
  std::string dir;
  std::string path;                    // created, deleted, or the rename target
  std::string from;                    // rename source
  std::optional<std::string> content;  // durable bytes a rename replaced or a delete removed
};

struct FaultSlot {
  int countdown = 0;  // calls left before failing; 0 = no fault armed
  bool failing = false;
  int err = 0;
};

}  // namespace

struct FaultInjectionEnv::State {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<FileState>> files;
  std::vector<PendingOp> pending;
  FaultSlot write_fault, sync_fault;
  int64_t writes = 0, syncs = 0;
  std::optional<int64_t> now_micros;
  int64_t free_space = -1;

  // Counts one call of the kind and says which errno it fails with (0: it goes through).
  int Check(Op op) {
    std::lock_guard<std::mutex> lock(mu);
    (op == Op::kWrite ? writes : syncs)++;
    FaultSlot& slot = op == Op::kWrite ? write_fault : sync_fault;
    if (!slot.failing && slot.countdown > 0 && --slot.countdown == 0) slot.failing = true;
    return slot.failing ? slot.err : 0;
  }
};

namespace {

Status Injected(int err, const char* op, const std::string& path) {
  return Status::FromErrno(err, std::string("injected fault: ") + op + " " + path);
}

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(std::unique_ptr<WritableFile> base, Env* base_env,
                    FaultInjectionEnv::State* env, std::shared_ptr<FileState> file)
      : base_(std::move(base)), base_env_(base_env), env_(env), file_(std::move(file)) {}

  Status Append(std::string_view data) override {
    if (int err = env_->Check(FaultInjectionEnv::Op::kWrite)) {
      return Injected(err, "append", path());
    }
    RETURN_IF_ERROR(RememberOverwrite(base_->Size(), data.size()));
    return base_->Append(data);
  }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    if (int err = env_->Check(FaultInjectionEnv::Op::kWrite)) {
      return Injected(err, "write", path());
    }
    RETURN_IF_ERROR(RememberOverwrite(offset, data.size()));
    return base_->WriteAt(offset, data);
  }

  // Not durability: a crash still loses what no Sync covered.
  Status StartWriteBack(uint64_t offset, uint64_t n) override {
    if (int err = env_->Check(FaultInjectionEnv::Op::kWrite)) {
      return Injected(err, "write back", path());
    }
    return base_->StartWriteBack(offset, n);
  }

  Status Sync() override {
    if (int err = env_->Check(FaultInjectionEnv::Op::kSync)) return Injected(err, "sync", path());
    // The file's length, not this handle's view of it: a handle opened only to sync (the
    // journal's) covers what other handles appended before the sync began.
    ASSIGN_OR_RETURN(const uint64_t size, base_env_->GetFileSize(path()));
    uint64_t covered;  // overwrites numbered below it were made before this sync began
    {
      std::lock_guard<std::mutex> lock(env_->mu);
      covered = file_->next_overwrite;
    }
    RETURN_IF_ERROR(base_->Sync());
    std::lock_guard<std::mutex> lock(env_->mu);
    file_->synced = std::max(file_->synced, size);
    std::erase_if(file_->overwritten,
                  [&](const FileState::Overwrite& o) { return o.seq < covered; });
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    RETURN_IF_ERROR(base_->Truncate(size));
    // Pessimistic: a crash may keep the cut even though the new length was never synced.
    std::lock_guard<std::mutex> lock(env_->mu);
    file_->synced = std::min(file_->synced, size);
    return Status::OK();
  }

  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  // Keeps the durable bytes a write of `length` at `offset` is about to replace.
  Status RememberOverwrite(uint64_t offset, size_t length) {
    uint64_t synced;
    {
      std::lock_guard<std::mutex> lock(env_->mu);
      synced = file_->synced;
    }
    if (offset >= synced || length == 0) return Status::OK();
    const auto n = static_cast<size_t>(std::min<uint64_t>(length, synced - offset));
    ASSIGN_OR_RETURN(auto reader, base_env_->NewRandomAccessFile(path()));
    std::string old(n, '\0');
    ASSIGN_OR_RETURN(std::string_view got, reader->Read(offset, n, old.data()));
    old.resize(got.size());
    std::lock_guard<std::mutex> lock(env_->mu);
    file_->overwritten.push_back({file_->next_overwrite++, offset, std::move(old)});
    return Status::OK();
  }

  std::unique_ptr<WritableFile> base_;
  Env* base_env_;
  FaultInjectionEnv::State* env_;
  std::shared_ptr<FileState> file_;
};

}  // namespace

FaultInjectionEnv::FaultInjectionEnv(Env* base) : base_(base), state_(std::make_unique<State>()) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

void FaultInjectionEnv::FailNth(Op op, int nth, int err) {
  std::lock_guard<std::mutex> lock(state_->mu);
  FaultSlot& slot = op == Op::kWrite ? state_->write_fault : state_->sync_fault;
  slot = FaultSlot{std::max(nth, 1), false, err};
}

void FaultInjectionEnv::ClearFaults() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->write_fault = FaultSlot{};
  state_->sync_fault = FaultSlot{};
}

void FaultInjectionEnv::SetNowMicros(int64_t micros) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->now_micros = micros;
}

void FaultInjectionEnv::SetFreeSpace(int64_t bytes) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->free_space = bytes;
}

int64_t FaultInjectionEnv::write_count() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->writes;
}

int64_t FaultInjectionEnv::sync_count() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->syncs;
}

int64_t FaultInjectionEnv::NowMicros() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->now_micros) return *state_->now_micros;
  }
  return base_->NowMicros();
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(const std::string& path) {
  const bool existed = base_->FileExists(path);
  ASSIGN_OR_RETURN(auto file, base_->NewWritableFile(path));
  auto state = std::make_shared<FileState>();
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->files[path] = state;
  if (!existed) {
    state_->pending.push_back(
        PendingOp{PendingOp::Kind::kCreate, DirName(path), path, {}, std::nullopt});
  }
  return std::unique_ptr<WritableFile>(
      new FaultWritableFile(std::move(file), base_, state_.get(), state));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::ReopenWritableFile(
    const std::string& path) {
  ASSIGN_OR_RETURN(auto file, base_->ReopenWritableFile(path));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto& state = state_->files[path];
  // A file this env has not seen was there before it: its bytes count as durable.
  if (!state) state = std::make_shared<FileState>(FileState{file->Size(), {}, 0});
  return std::unique_ptr<WritableFile>(
      new FaultWritableFile(std::move(file), base_, state_.get(), state));
}

Result<std::unique_ptr<RandomAccessFile>> FaultInjectionEnv::NewRandomAccessFile(
    const std::string& path) {
  return base_->NewRandomAccessFile(path);
}

bool FaultInjectionEnv::FileExists(const std::string& path) { return base_->FileExists(path); }

Result<uint64_t> FaultInjectionEnv::GetFileSize(const std::string& path) {
  return base_->GetFileSize(path);
}

Result<std::vector<std::string>> FaultInjectionEnv::GetChildren(const std::string& dir) {
  return base_->GetChildren(dir);
}

Status FaultInjectionEnv::CreateDirs(const std::string& dir) { return base_->CreateDirs(dir); }

namespace {

// The bytes of path that would survive a crash now, if the file exists.
std::optional<std::string> DurableContent(Env* base, const std::string& path,
                                          const std::shared_ptr<FileState>& state) {
  if (!base->FileExists(path)) return std::nullopt;
  auto data = ReadFileToString(base, path);
  if (!data.ok()) return std::nullopt;
  std::string bytes = std::move(data).value();
  if (state && bytes.size() > state->synced) bytes.resize(state->synced);
  return bytes;
}

}  // namespace

Status FaultInjectionEnv::DeleteFile(const std::string& path) {
  std::shared_ptr<FileState> state;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->files.find(path);
    if (it != state_->files.end()) state = it->second;
  }
  std::optional<std::string> content = DurableContent(base_, path, state);
  RETURN_IF_ERROR(base_->DeleteFile(path));
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->files.erase(path);
  state_->pending.push_back(
      PendingOp{PendingOp::Kind::kDelete, DirName(path), path, {}, std::move(content)});
  return Status::OK();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  std::shared_ptr<FileState> old_target;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->files.find(to);
    if (it != state_->files.end()) old_target = it->second;
  }
  std::optional<std::string> replaced = DurableContent(base_, to, old_target);
  RETURN_IF_ERROR(base_->RenameFile(from, to));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->files.find(from);
  if (it != state_->files.end()) {
    state_->files[to] = it->second;
    state_->files.erase(it);
  } else {
    state_->files.erase(to);
  }
  // The new name becomes durable with a sync of the target's directory.
  state_->pending.push_back(
      PendingOp{PendingOp::Kind::kRename, DirName(to), to, from, std::move(replaced)});
  return Status::OK();
}

Status FaultInjectionEnv::CopyFile(const std::string& from, const std::string& to) {
  const bool existed = base_->FileExists(to);
  RETURN_IF_ERROR(base_->CopyFile(from, to));
  ASSIGN_OR_RETURN(uint64_t size, base_->GetFileSize(to));
  std::lock_guard<std::mutex> lock(state_->mu);
  // The base copy syncs its bytes; only the new name still needs SyncDir.
  state_->files[to] = std::make_shared<FileState>(FileState{size, {}, 0});
  if (!existed) {
    state_->pending.push_back(
        PendingOp{PendingOp::Kind::kCreate, DirName(to), to, {}, std::nullopt});
  }
  return Status::OK();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  if (int err = state_->Check(Op::kSync)) return Injected(err, "sync directory", dir);
  RETURN_IF_ERROR(base_->SyncDir(dir));
  // Compare normalized names so "d/" and "d" are the same directory.
  const std::string key = JoinPath(dir, "x");
  std::lock_guard<std::mutex> lock(state_->mu);
  std::erase_if(state_->pending, [&](const PendingOp& op) { return JoinPath(op.dir, "x") == key; });
  return Status::OK();
}

Result<std::unique_ptr<FileLock>> FaultInjectionEnv::LockFile(const std::string& path) {
  return base_->LockFile(path);
}

Result<uint64_t> FaultInjectionEnv::GetFreeSpace(const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->free_space >= 0) return static_cast<uint64_t>(state_->free_space);
  }
  return base_->GetFreeSpace(path);
}

namespace {

Status WriteWhole(Env* base, const std::string& path, const std::string& data) {
  ASSIGN_OR_RETURN(auto file, base->NewWritableFile(path));
  RETURN_IF_ERROR(file->Append(data));
  RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

Status Undo(Env* base, const PendingOp& op) {
  switch (op.kind) {
    case PendingOp::Kind::kCreate:
      if (base->FileExists(op.path)) return base->DeleteFile(op.path);
      return Status::OK();
    case PendingOp::Kind::kRename:
      if (base->FileExists(op.path)) RETURN_IF_ERROR(base->RenameFile(op.path, op.from));
      if (op.content) return WriteWhole(base, op.path, *op.content);
      return Status::OK();
    case PendingOp::Kind::kDelete:
      if (op.content) return WriteWhole(base, op.path, *op.content);
      return Status::OK();
  }
  return Status::OK();
}

}  // namespace

Status FaultInjectionEnv::Crash() {
  std::lock_guard<std::mutex> lock(state_->mu);
  // Data first, under the names the files have now; then the names, newest change first.
  for (const auto& [path, file] : state_->files) {
    if (!base_->FileExists(path)) continue;
    ASSIGN_OR_RETURN(uint64_t size, base_->GetFileSize(path));
    if (size <= file->synced && file->overwritten.empty()) continue;
    ASSIGN_OR_RETURN(auto handle, base_->ReopenWritableFile(path));
    for (auto it = file->overwritten.rbegin(); it != file->overwritten.rend(); ++it) {
      if (it->offset >= file->synced) continue;  // a truncation since took it
      const auto n =
          static_cast<size_t>(std::min<uint64_t>(it->old.size(), file->synced - it->offset));
      RETURN_IF_ERROR(
          handle->WriteAt(it->offset, std::string_view(it->old).substr(0, n)).WithContext("crash"));
    }
    if (size > file->synced) RETURN_IF_ERROR(handle->Truncate(file->synced).WithContext("crash"));
    RETURN_IF_ERROR(handle->Close());
  }
  for (auto it = state_->pending.rbegin(); it != state_->pending.rend(); ++it) {
    RETURN_IF_ERROR(Undo(base_, *it).WithContext("crash"));
  }
  // After the "reboot" everything on disk is what survived, so all of it counts as durable.
  state_->files.clear();
  state_->pending.clear();
  return Status::OK();
}

}  // namespace binlog
