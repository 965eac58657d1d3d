// Status and Result<T>: errors as values. Used on the data path (no
// exceptions there) and by the control plane for anything that can fail
// because of input from outside (config files, API callers, peers).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace codis {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return {}; }
  static Status Error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  // Empty when ok(); otherwise says what failed (and, where we can, what to do).
  const std::string& message() const {
    static const std::string empty;
    return error_ ? *error_ : empty;
  }

 private:
  explicit Status(std::string message) : error_(std::move(message)) {}
  std::optional<std::string> error_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) {}       // NOLINT: must not be ok()
  static Result Error(std::string message) { return Result(Status::Error(std::move(message))); }

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

 private:
  static const std::string& empty() {
    static const std::string e;
    return e;
  }
  std::variant<T, Status> v_;
};

}  // namespace codis
