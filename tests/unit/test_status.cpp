// codis::Status / Result: error codes that callers act on, kept through context().
#include <catch2/catch.hpp>

#include "codis/status.h"

using codis::Code;
using codis::Result;
using codis::Status;

TEST_CASE("Status: codes and context") {
  CHECK(Status::Ok().code() == Code::kOk);
  CHECK(Status::Error("x").code() == Code::kError);
  const Status t = Status::Error("read timed out", Code::kTimeout);
  const Status wrapped = t.context("redis 10.0.0.1:6379: ");
  CHECK(wrapped.code() == Code::kTimeout);
  CHECK(wrapped.message() == "redis 10.0.0.1:6379: read timed out");
  CHECK(Status::Ok().context("prefix").ok());

  Result<int> r = Result<int>::Error("HTTP 404", Code::kNotFound);
  CHECK(r.code() == Code::kNotFound);
  CHECK(r.status().code() == Code::kNotFound);
  CHECK(Result<int>(5).code() == Code::kOk);
}
