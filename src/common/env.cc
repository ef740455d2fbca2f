// Helpers built only on the Env interface, so they work the same over PosixEnv and the fault env.
#include "common/env.h"

#include <cstring>

namespace binlog {

Result<std::string> ReadFileToString(Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(auto file, env->NewRandomAccessFile(path));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string data(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    ASSIGN_OR_RETURN(std::string_view got, file->Read(done, size - done, data.data() + done));
    // The file shrank under us; return what is there rather than zero padding.
    if (got.empty()) break;
    if (got.data() != data.data() + done) memcpy(data.data() + done, got.data(), got.size());
    done += got.size();
  }
  data.resize(done);
  return data;
}

Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  Status s = [&]() -> Status {
    ASSIGN_OR_RETURN(auto file, env->NewWritableFile(tmp));
    RETURN_IF_ERROR(file->Append(data));
    RETURN_IF_ERROR(file->Sync());
    return file->Close();
  }();
  if (s.ok()) s = env->RenameFile(tmp, path);
  if (!s.ok()) {
    // Leaving a half-written tmp behind would only confuse the next reader of the directory.
    env->DeleteFile(tmp).IgnoreError();
    return s;
  }
  return env->SyncDir(DirName(path));
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  if (name.empty()) return std::string(dir);
  std::string out(dir);
  const bool dir_slash = out.back() == '/';
  const bool name_slash = name.front() == '/';
  if (dir_slash && name_slash) {
    name.remove_prefix(1);
  } else if (!dir_slash && !name_slash) {
    out += '/';
  }
  out += name;
  return out;
}

namespace {

// Drops trailing slashes but keeps a lone "/".
std::string_view StripTrailingSlashes(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

}  // namespace

std::string DirName(std::string_view path) {
  path = StripTrailingSlashes(path);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  std::string_view dir = path.substr(0, slash);
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (dir.empty()) return "/";
  return std::string(dir);
}

std::string BaseName(std::string_view path) {
  path = StripTrailingSlashes(path);
  if (path == "/") return "/";
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::string(path);
  return std::string(path.substr(slash + 1));
}

}  // namespace binlog
