// Fuzzes the ACL engine's parser (proxy/src/acl.cpp). Beyond "no crash, no out-of-bounds read":
//  - a users file either loads or leaves an error report, never both, never neither;
//  - every loaded user describes itself (ACL LIST) in rules that load back to the same
//    description (what ACL LIST shows, a users file reproduces);
//  - glob_match terminates on any pattern (its own input split at the first NUL byte), and a
//    pattern always matches itself once its special characters are escaped.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "acl.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::string escape_glob(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace codis::proxy::acl;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  std::string error;
  auto users = Users::parse(input, "fuzz.acl", "on nopass ~* &* +@all", error);
  check((users != nullptr) == error.empty());
  if (users) {
    check(users->find("default") != nullptr);
    for (const auto& [name, user] : users->all()) {
      const std::string described = user->describe();
      std::string again_error;
      // Names with quotes or odd bytes would need quoting in a file: only plain names here.
      bool plain = !name.empty();
      for (char c : name) plain = plain && c > ' ' && c != '"' && c != '\'' && c != 127;
      if (!plain) continue;
      auto again = Users::parse("user " + name + " " + described + "\n", "again.acl", "", again_error);
      check(again != nullptr);
      check(again->find(name)->describe() == described);
    }
  }

  const size_t nul = input.find('\0');
  const std::string_view pattern = input.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);
  (void)glob_match(pattern, text);
  (void)glob_match(pattern, text, true);
  check(glob_match(escape_glob(text), text));
  return 0;
}
