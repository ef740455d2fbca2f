// The paths segdump is given: which segments they are, and the reporter of findings.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <ostream>

#include "common/env.h"
#include "journal/journal.h"
#include "segdump/printer.h"
#include "segdump/walk.h"

namespace binlog::segdump {

namespace fs = std::filesystem;

void Reporter::Report(Level level, const std::string& path, std::optional<uint64_t> offset,
                      const std::string& what) {
  if (flush_first_) flush_first_->flush();
  static constexpr const char* kNames[] = {"ERROR   ", "WARNING ", "NOTE    ", "OK      "};
  std::string line = kNames[static_cast<int>(level)];
  line += OneLine(path);
  if (offset) line += fmt::format(": offset {}", *offset);
  line += ": ";
  line += OneLine(what);
  *out_ << line << '\n';
  if (level == Level::kError) ++errors_;
  if (level == Level::kWarning) ++warnings_;
  if (level == Level::kNote) ++notes_;
}

std::optional<std::string> NotAFileOrDirectory(fs::file_type type) {
  switch (type) {
    case fs::file_type::regular:
    case fs::file_type::directory:
      return std::nullopt;
    case fs::file_type::fifo:
      return "a FIFO (named pipe)";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::block:
      return "a block device";
    case fs::file_type::character:
      return "a character device";
    default:
      return "of an unknown file type";
  }
}

// Whether no segment sorts after this one in its directory. A file whose name is not a segment
// name is judged on its own: newest.
namespace {

bool NewestBeside(const std::string& path) {
  std::string name = BaseName(path);
  if (!journal::ParseSegmentName(name)) return true;
  auto listed = journal::ListSegments(Env::Posix(), DirName(path), /*warn_unknown=*/false);
  if (!listed.ok()) return true;
  auto it = std::find_if(listed->begin(), listed->end(),
                         [&](const journal::SegmentName& s) { return s.name == name; });
  return it == listed->end() || it + 1 == listed->end();
}

}  // namespace

Result<Target> ResolveTarget(const std::string& path) {
  Target t;
  t.path = path;
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) {
    return Status::NotFound("no such file or directory");
  }
  if (ec) return Status::IOError(ec.message());
  if (auto kind = NotAFileOrDirectory(st.type())) {
    return Status::InvalidArgument(
        *kind +
        ", not a regular file or a directory: not read (segdump reads segment files and "
        "journal directories)");
  }
  if (st.type() == fs::file_type::regular) {
    t.segments.push_back(SegmentPlace{path, NewestBeside(path)});
    return t;
  }
  t.is_dir = true;
  ASSIGN_OR_RETURN(auto segments, journal::ListSegments(Env::Posix(), path));
  for (size_t i = 0; i < segments.size(); ++i) {
    t.segments.push_back(SegmentPlace{JoinPath(path, segments[i].name), i + 1 == segments.size()});
  }
  return t;
}

}  // namespace binlog::segdump
