// Error values for every I/O path: no exceptions cross a module boundary.
//
// Status is one pointer, null when OK (LevelDB's shape), so returning success costs nothing.
// Result<T> holds either a value or a non-OK Status. Both are [[nodiscard]].
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace binlog {

enum class StatusCode : int {
  kOk = 0,
  kNotFound,
  kCorruption,       // stored bytes are damaged (checksum, framing); data may be lost
  kInvalidArgument,  // the caller's input (arguments, config, payload) is wrong
  kIOError,          // the operating system refused a read, write, sync, rename ...
  kNoSpace,          // ENOSPC, or a configured free-space threshold was crossed
  kBusy,             // someone else holds a lock
  kAborted,          // a sticky earlier failure refuses further work; a compare-and-swap lost
  kUnsupported,      // a format version or feature this build does not know
  kTimedOut,
  // A value is behind what the callee has already passed (a commit ts at or below a pump's
  // written ts): the same request with a newer value can succeed.
  kOutOfRange,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(const Status& other) : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(StatusCode::kNotFound, msg); }
  static Status Corruption(std::string_view msg) { return Status(StatusCode::kCorruption, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(StatusCode::kInvalidArgument, msg);
  }
  static Status IOError(std::string_view msg) { return Status(StatusCode::kIOError, msg); }
  static Status NoSpace(std::string_view msg) { return Status(StatusCode::kNoSpace, msg); }
  static Status Busy(std::string_view msg) { return Status(StatusCode::kBusy, msg); }
  static Status Aborted(std::string_view msg) { return Status(StatusCode::kAborted, msg); }
  static Status Unsupported(std::string_view msg) { return Status(StatusCode::kUnsupported, msg); }
  static Status TimedOut(std::string_view msg) { return Status(StatusCode::kTimedOut, msg); }
  static Status OutOfRange(std::string_view msg) { return Status(StatusCode::kOutOfRange, msg); }
  // Maps an errno from a failed system call: ENOSPC/EDQUOT become kNoSpace, ENOENT kNotFound.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  bool IsNotFound() const { return code() == StatusCode::kNotFound; }
  bool IsCorruption() const { return code() == StatusCode::kCorruption; }
  bool IsInvalidArgument() const { return code() == StatusCode::kInvalidArgument; }
  bool IsIOError() const { return code() == StatusCode::kIOError; }
  bool IsNoSpace() const { return code() == StatusCode::kNoSpace; }
  bool IsBusy() const { return code() == StatusCode::kBusy; }
  bool IsAborted() const { return code() == StatusCode::kAborted; }
  bool IsUnsupported() const { return code() == StatusCode::kUnsupported; }
  bool IsTimedOut() const { return code() == StatusCode::kTimedOut; }
  bool IsOutOfRange() const { return code() == StatusCode::kOutOfRange; }

  // The message alone, without the code name.
  const std::string& message() const;
  // "Corruption: <message>", or "OK".
  std::string ToString() const;
  // A copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;

  // Call when an error is deliberately dropped, so the reader sees it was considered.
  void IgnoreError() const {}

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  Status(StatusCode code, std::string_view msg)
      : rep_(std::make_unique<Rep>(Rep{code, std::string(msg)})) {}

  std::unique_ptr<Rep> rep_;
};

const char* StatusCodeName(StatusCode code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "Result built from an OK Status carries no value");
    if (status_.ok()) status_ = Status::Aborted("Result built from an OK Status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace binlog

#define BINLOG_CONCAT_INNER(a, b) a##b
#define BINLOG_CONCAT(a, b) BINLOG_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::binlog::Status _binlog_status = (expr);        \
    if (!_binlog_status.ok()) return _binlog_status; \
  } while (0)

// ASSIGN_OR_RETURN(auto x, MakeX()): declares x from a Result, or returns its Status.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL(BINLOG_CONCAT(_binlog_result_, __LINE__), lhs, rexpr)
#define ASSIGN_OR_RETURN_IMPL(result, lhs, rexpr) \
  auto result = (rexpr);                          \
  if (!result.ok()) return result.status();       \
  lhs = std::move(result).value()
