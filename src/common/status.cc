#include "common/status.h"

#include <errno.h>
#include <string.h>

namespace binlog {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kIOError:
      return "IOError";
    case StatusCode::kNoSpace:
      return "NoSpace";
    case StatusCode::kBusy:
      return "Busy";
    case StatusCode::kAborted:
      return "Aborted";
    case StatusCode::kUnsupported:
      return "Unsupported";
    case StatusCode::kTimedOut:
      return "TimedOut";
    case StatusCode::kOutOfRange:
      return "OutOfRange";
  }
  return "Unknown";
}

Status Status::FromErrno(int err, std::string_view context) {
  // strerror_r (GNU flavour) is thread-safe, unlike strerror.
  char buf[256];
  const char* text = strerror_r(err, buf, sizeof(buf));
  std::string msg(context);
  msg += ": ";
  msg += text;
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return Status(StatusCode::kNoSpace, msg);
    case ENOENT:
      return Status(StatusCode::kNotFound, msg);
    default:
      return Status(StatusCode::kIOError, msg);
  }
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = StatusCodeName(rep_->code);
  out += ": ";
  out += rep_->message;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return Status();
  std::string msg(context);
  msg += ": ";
  msg += rep_->message;
  return Status(rep_->code, msg);
}

}  // namespace binlog
