// Status and Result<T>: errors as values. Used on the data path (no
// exceptions there) and by the control plane for anything that can fail
// because of input from outside (config files, API callers, peers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace codis {

// What kind of failure, for callers that act on it (the message is for people; never match on it).
enum class Code : uint8_t {
  kOk = 0,
  kError,        // anything not below
  kTimeout,      // a deadline passed (connect, read, write, a whole call)
  kNotFound,     // what was asked for does not exist (an HTTP 404, a missing node)
  kRefused,      // the peer refused the connection: nothing listens there
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return {}; }
  static Status Error(std::string message, Code code = Code::kError) { return Status(std::move(message), code); }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  Code code() const { return code_; }
  // Empty when ok(); otherwise says what failed (and, where we can, what to do).
  const std::string& message() const {
    static const std::string empty;
    return error_ ? *error_ : empty;
  }
  // The same error (and code) with `prefix` before its message; Ok stays Ok.
  Status context(std::string_view prefix) const {
    return ok() ? Status() : Status(std::string(prefix) + *error_, code_);
  }

 private:
  Status(std::string message, Code code) : error_(std::move(message)), code_(code) {}
  std::optional<std::string> error_;
  Code code_ = Code::kOk;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) {}       // NOLINT: must not be ok()
  static Result Error(std::string message, Code code = Code::kError) {
    return Result(Status::Error(std::move(message), code));
  }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  Status status() const { return ok() ? Status::Ok() : std::get<1>(v_); }
  const std::string& message() const { return ok() ? empty() : std::get<1>(v_).message(); }
  Code code() const { return ok() ? Code::kOk : std::get<1>(v_).code(); }

 private:
  static const std::string& empty() {
    static const std::string e;
    return e;
  }
  std::variant<T, Status> v_;
};

}  // namespace codis
