// codis-admin: see admin_command.h. Exit status 0 on success, 1 on any
// failure (bad flags, unreachable daemon, an error the daemon returned).
#include <cstdlib>
#include <iostream>

#include "admin_command.h"

int main(int argc, char **argv) {
  auto parsed = codis::admin::parse_admin_args(argc, argv, [](const char *name) { return std::getenv(name); });
  if (!parsed.command) {
    if (parsed.exit_code == 0) {
      std::cout << parsed.message;
    } else {
      std::cerr << "codis-admin: " << parsed.message << "\n";
    }
    return parsed.exit_code;
  }
  auto st = codis::admin::run_admin(*parsed.command, std::cout, std::cerr);
  std::cout.flush();
  if (!st.ok()) {
    std::cerr << "codis-admin: " << st.message() << "\n";
    return 1;
  }
  return 0;
}
